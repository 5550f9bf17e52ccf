import { describe, expect, it } from 'vitest';
import { RingCxError } from '../../../../shared/ringcx/errors';
import { applyArray } from '../../../../shared/worker/sync/applyArray';

const http = (status: number) => new RingCxError({ kind: 'http', method: 'POST', path: '/x', status });

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
});
