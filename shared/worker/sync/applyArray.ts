import { isRingCxError, type RingCxError } from '../../ringcx/errors';

/** `deferred`: not sent, because the invocation could not have finished the call in time. */
export type ItemResult = { ok: true } | { ok: false; error: RingCxError } | { ok: false; deferred: true };

/**
 * Sends items in arrays of at most `maxArray`. RingCX applies an array atomically, so one bad
 * number fails the whole call; a final (4xx) failure is split in halves and retried until the bad
 * items stand alone, so nine good numbers still go through: at most 2·log2(n) extra calls.
 * Transient failures (after the client's own retries) are not split: every item is reported with
 * the error, for the caller to re-read or retry. Before each call `mayStart` is asked whether one
 * more call still fits the invocation; when it does not, the call's items are deferred unsent.
 */
export async function applyArray<T>(
  items: T[],
  maxArray: number,
  call: (chunk: T[]) => Promise<unknown>,
  mayStart: () => boolean = () => true,
): Promise<ItemResult[]> {
  const results: ItemResult[] = new Array(items.length);
  const run = async (start: number, end: number): Promise<void> => {
    if (!mayStart()) {
      for (let i = start; i < end; i++) results[i] = { ok: false, deferred: true };
      return;
    }
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
