import { arrayTooLarge, isRingCxError, type RingCxError } from '../../ringcx/errors';

/** `deferred`: not sent, because the invocation could not have finished the call in time. */
export type ItemResult = { ok: true } | { ok: false; error: RingCxError } | { ok: false; deferred: true };

/** The array calls whose caps are learned apart: RingCX may cap each endpoint differently. */
export const ARRAY_KINDS = { create: 'createDnisPool', update: 'updateDnisPool', assign: 'assign' } as const;

/**
 * The longest array RingCX took of each kind ("createDnisPool", "assign", ...) after it refused a
 * longer one as too large, for the rest of this process: later arrays of that kind start at it
 * instead of paying one refused call each to find it again.
 */
const learnedCaps = new Map<string, number>();

/** The array size to send for `kind`: the configured maximum, or less once RingCX refused more. */
export function arrayCap(kind: string, configured: number): number {
  return Math.max(1, Math.min(configured, learnedCaps.get(kind) ?? configured));
}

/** Forgets every learned cap (tests; a new process starts without them). */
export function forgetLearnedArrayCaps(): void {
  learnedCaps.clear();
}

function learnCap(kind: string, size: number): void {
  learnedCaps.set(kind, Math.min(learnedCaps.get(kind) ?? size, size));
}

/**
 * Sends items in arrays of at most `maxArray` (or the smaller cap learned for `kind`). RingCX
 * applies an array atomically, so a refused array stored nothing and its items can be sent again:
 * - refused as too large: split into arrays of the size the answer names, or in halves, down to
 *   one item, and the size that is tried next is remembered for `kind`;
 * - another final (4xx) failure: split in halves until the bad items stand alone, so nine good
 *   numbers still go through: at most 2·log2(n) extra calls;
 * - transient failures (after the client's own retries) are not split: every item is reported
 *   with the error, for the caller to re-read or retry.
 * Before each call `mayStart` is asked whether one more call still fits the invocation; when it
 * does not, the call's items are deferred unsent.
 */
export async function applyArray<T>(
  items: T[],
  maxArray: number,
  call: (chunk: T[]) => Promise<unknown>,
  mayStart: () => boolean = () => true,
  kind = 'array',
): Promise<ItemResult[]> {
  const results: ItemResult[] = new Array(items.length);
  /** Pieces of at most `piece`, or of the learned cap once a piece taught a smaller one. */
  const sendInPieces = async (start: number, end: number, piece: number) => {
    for (let from = start; from < end; ) {
      const to = Math.min(from + arrayCap(kind, piece), end);
      await run(from, to);
      from = to;
    }
  };
  const run = async (start: number, end: number): Promise<void> => {
    if (!mayStart()) {
      for (let i = start; i < end; i++) results[i] = { ok: false, deferred: true };
      return;
    }
    const size = end - start;
    try {
      await call(items.slice(start, end));
      for (let i = start; i < end; i++) results[i] = { ok: true };
    } catch (error) {
      if (!isRingCxError(error)) throw error;
      const tooLarge = size > 1 ? arrayTooLarge(error, size) : undefined;
      if (tooLarge) {
        const piece = tooLarge.limit ?? Math.ceil(size / 2);
        learnCap(kind, piece);
        await sendInPieces(start, end, piece);
        return;
      }
      if (error.retryable || size === 1) {
        for (let i = start; i < end; i++) results[i] = { ok: false, error };
        return;
      }
      const middle = start + Math.ceil(size / 2);
      await run(start, middle);
      await run(middle, end);
    }
  };
  // The cap is read again for every array: one refused early in the loop shortens the rest.
  await sendInPieces(0, items.length, maxArray);
  return results;
}
