import { isRingCxError, type RingCxError } from '../ringcx/errors';

export type ItemResult = { ok: true } | { ok: false; error: RingCxError };

/**
 * Sends items in arrays of at most `maxArray`. RingCX applies an array atomically, so one bad
 * number fails the whole call; a final (4xx) failure is split in halves and retried until the bad
 * items stand alone, so nine good numbers still go through: at most 2·log2(n) extra calls.
 * Transient failures (after the client's own retries) are not split: every item is reported with
 * the error, to be retried by SQS redelivery.
 */
export async function applyArray<T>(
  items: T[],
  maxArray: number,
  call: (chunk: T[]) => Promise<unknown>,
): Promise<ItemResult[]> {
  const results: ItemResult[] = new Array(items.length);
  const run = async (start: number, end: number): Promise<void> => {
    try {
      await call(items.slice(start, end));
      for (let i = start; i < end; i++) results[i] = { ok: true };
    } catch (error) {
      if (!isRingCxError(error)) throw error;
      if (error.retryable || end - start === 1) {
        for (let i = start; i < end; i++) results[i] = { ok: false, error };
        return;
      }
      const middle = start + Math.ceil((end - start) / 2);
      await run(start, middle);
      await run(middle, end);
    }
  };
  for (let start = 0; start < items.length; start += maxArray) {
    await run(start, Math.min(start + maxArray, items.length));
  }
  return results;
}
