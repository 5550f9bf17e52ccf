import { beforeEach, describe, expect, it } from 'vitest';
import { arrayTooLarge, RingCxArrayTooLargeError, RingCxError } from '../../../../shared/ringcx/errors';
import { applyArray, arrayCap, forgetLearnedArrayCaps } from '../../../../shared/worker/sync/applyArray';

const http = (status: number, generalMessage?: string) => new RingCxError({ kind: 'http', method: 'POST', path: '/x', status, ...(generalMessage ? { generalMessage } : {}) });

beforeEach(() => forgetLearnedArrayCaps());

/** A RingCX that takes arrays of at most `cap` atomically and answers 413 above it; what it stored, in order. */
function cappedRingCx(cap: number, message?: string) {
  const stored: number[] = [];
  const sizes: number[] = [];
  const call = async (chunk: number[]) => {
    sizes.push(chunk.length);
    if (chunk.length > cap) throw http(413, message);
    stored.push(...chunk);
  };
  return { stored, sizes, call };
}

describe('applyArray', () => {
  it('isolates bad items by halving, so the good ones still go through', async () => {
    const calls: number[][] = [];
    const results = await applyArray([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 100, async (chunk) => {
      calls.push(chunk);
      if (chunk.includes(7)) throw http(400);
    });
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, true, false, true, true, true]);
    // One full call, then log2(10) rounds around the bad item.
    expect(calls.length).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(10)));
  });

  it('does not split on a transient error: every item waits for a retry', async () => {
    let calls = 0;
    const results = await applyArray([1, 2, 3], 100, async () => {
      calls += 1;
      throw http(503);
    });
    expect(calls).toBe(1);
    expect(results.every((r) => !r.ok && 'error' in r && r.error.status === 503)).toBe(true);
  });

  it('chunks to the largest array RingCX should get', async () => {
    const sizes: number[] = [];
    await applyArray(Array.from({ length: 250 }, (_, i) => i), 100, async (chunk) => void sizes.push(chunk.length));
    expect(sizes).toEqual([100, 100, 50]);
  });

  it('defers, unsent, the calls the caller no longer has time for', async () => {
    const sent: number[][] = [];
    let allowed = 1;
    const results = await applyArray([1, 2, 3, 4, 5], 2, async (chunk) => void sent.push(chunk), () => allowed-- > 0);
    expect(sent).toEqual([[1, 2]]);
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: false, deferred: true }, { ok: false, deferred: true }, { ok: false, deferred: true }]);
  });

  it('lets programming errors through', async () => {
    await expect(applyArray([1], 10, async () => Promise.reject(new TypeError('bug')))).rejects.toThrow(TypeError);
  });

  describe('an array refused as too large', () => {
    it('is halved down to what RingCX takes, and every item is stored exactly once', async () => {
      const ringcx = cappedRingCx(300);
      const items = Array.from({ length: 1000 }, (_, i) => i);
      const results = await applyArray(items, 1000, ringcx.call, () => true, 'create');
      expect(results.every((r) => r.ok)).toBe(true);
      // 1000 refused, 500 refused, then 250-sized pieces at the learned cap.
      expect(ringcx.sizes).toEqual([1000, 500, 250, 250, 250, 250]);
      expect(ringcx.stored.sort((a, b) => a - b)).toEqual(items);
      expect(new Set(ringcx.stored).size).toBe(items.length);
    });

    it('halves recursively down to a single item when RingCX takes one at a time', async () => {
      const ringcx = cappedRingCx(1);
      const results = await applyArray([1, 2, 3, 4, 5], 8, ringcx.call, () => true, 'assign');
      expect(results.every((r) => r.ok)).toBe(true);
      expect(ringcx.stored.sort()).toEqual([1, 2, 3, 4, 5]);
      expect(arrayCap('assign', 1000)).toBe(1);
    });

    it('remembers the learned cap for later arrays of the same kind, and only of that kind', async () => {
      const ringcx = cappedRingCx(500);
      await applyArray(Array.from({ length: 900 }, (_, i) => i), 1000, ringcx.call, () => true, 'create');
      expect(ringcx.sizes).toEqual([900, 450, 450]);
      expect(arrayCap('create', 1000)).toBe(450);
      ringcx.sizes.length = 0;
      await applyArray(Array.from({ length: 900 }, (_, i) => 1000 + i), 1000, ringcx.call, () => true, 'create');
      // Starts at the learned 450: no refused call this time.
      expect(ringcx.sizes).toEqual([450, 450]);
      expect(new Set(ringcx.stored).size).toBe(1800);
      expect(arrayCap('assign', 1000)).toBe(1000);
    });

    it('jumps straight to the size the answer names', async () => {
      const ringcx = cappedRingCx(250, 'At most 250 records may be sent in one request; this one has 1000');
      await applyArray(Array.from({ length: 1000 }, (_, i) => i), 1000, ringcx.call, () => true, 'update');
      expect(ringcx.sizes).toEqual([1000, 250, 250, 250, 250]);
      expect(arrayCap('update', 1000)).toBe(250);
    });

    it('still isolates a bad record inside the pieces', async () => {
      const stored: number[] = [];
      const results = await applyArray(Array.from({ length: 8 }, (_, i) => i), 8, async (chunk) => {
        if (chunk.length > 4) throw http(413);
        if (chunk.includes(6)) throw http(400, 'invalid DNIS');
        stored.push(...chunk);
      }, () => true, 'create');
      expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, true, false, true]);
      expect(stored.sort()).toEqual([0, 1, 2, 3, 4, 5, 7]);
      // A bad record is not mistaken for a too-large array.
      expect(arrayCap('create', 8)).toBe(4);
    });

    it('defers the pieces the invocation has no time for', async () => {
      const ringcx = cappedRingCx(2);
      let allowed = 2;
      const results = await applyArray([1, 2, 3, 4], 4, ringcx.call, () => allowed-- > 0, 'assign');
      expect(ringcx.stored).toEqual([1, 2]);
      expect(results).toEqual([{ ok: true }, { ok: true }, { ok: false, deferred: true }, { ok: false, deferred: true }]);
    });
  });
});

describe('arrayTooLarge', () => {
  it('recognises a 413, and a 400 about the length of the request', () => {
    expect(arrayTooLarge(http(413), 10)).toBeInstanceOf(RingCxArrayTooLargeError);
    expect(arrayTooLarge(http(400, 'Too many records in the request'), 10)).toBeInstanceOf(RingCxArrayTooLargeError);
    expect(arrayTooLarge(http(400, 'The request exceeds the maximum of 500 records'), 1000)?.limit).toBe(500);
  });

  it('does not take a bad record, a conflict or a transient failure for one', () => {
    expect(arrayTooLarge(http(400, 'Invalid DNIS 123: at most 15 digits'), 10)).toBeUndefined();
    expect(arrayTooLarge(http(400, 'dnisDescription is too long'), 10)).toBeUndefined();
    expect(arrayTooLarge(http(409), 10)).toBeUndefined();
    expect(arrayTooLarge(http(503), 10)).toBeUndefined();
    expect(arrayTooLarge(new Error('bug'), 10)).toBeUndefined();
  });

  it('keeps what RingCX said, and a named limit only when it is below the size sent', () => {
    const error = arrayTooLarge(http(413, 'At most 1000 records may be sent in one request'), 600);
    expect(error?.status).toBe(413);
    expect(error?.retryable).toBe(false);
    expect(error?.limit).toBeUndefined();
  });
});
