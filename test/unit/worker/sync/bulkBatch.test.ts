import { beforeEach, describe, expect, it } from 'vitest';
import { deployedSizing, STAGES } from '../../../../infra/config';
import type { Target } from '../../../../shared/domain/desiredRow';
import { forgetLearnedArrayCaps } from '../../../../shared/worker/sync/applyArray';
import type { SyncOptions, SyncRequest } from '../../../../shared/worker/sync/contract';
import { syncRows } from '../../../../shared/worker/sync/syncRows';
import { FakeRingCx, row } from './fakeRingCx';

/**
 * A bulk batch against a prod worker invocation (120 s): the cheap rows of a migration share array
 * calls, so even a batch of 10,000 (SQS's largest) is a couple of dozen calls; when the pace is too
 * slow for all of them, the engine starts only what fits and the rest is left untouched for the
 * next delivery.
 */

const prod = STAGES.prod;
const TARGETS: Target[] = [
  { type: 'gate', id: 4501 },
  { type: 'gate', id: 4502 },
  { type: 'gate', id: 4503 },
  { type: 'visualIvr', id: 701 },
  { type: 'visualIvr', id: 702 },
  { type: 'gate', id: 4504 },
  { type: 'gate', id: 4505 },
];
const options: SyncOptions = { maxArray: 1000, maxRows: 1000, reassignMode: 'unassign-first' };

function newNumbers(count: number): SyncRequest[] {
  return Array.from({ length: count }, (_, i) => ({ key: `r${i}`, row: row(`1646${String(2_000_000 + i).padStart(7, '0')}`, TARGETS[i % TARGETS.length] as Target, { onConflict: 'fail' }), mode: 'apply' }));
}

beforeEach(() => forgetLearnedArrayCaps());

describe('a bulk batch within a prod worker invocation', () => {
  it('creates and assigns 10,000 new numbers over 7 targets in 25 calls, inside 120 s at one instance\'s slice of the budget', async () => {
    // A fair share of the tenant's budget when every worker instance is busy (alone, one is faster).
    const fake = new FakeRingCx(60_000 / (prod.ringcxRequestsPerMinute / deployedSizing(prod).worker.instances));
    const requests = newNumbers(10_000);
    const timeoutMs = prod.worker.timeoutSeconds * 1000;
    const results = await syncRows(fake.client, requests, { ...options, remainingMs: fake.remainingMs(timeoutMs), pace: fake.pace() });
    expect([...results.values()].every((r) => r.status === 'done' && r.outcome === 'created')).toBe(true);
    // A search, 10 creates of 1,000, and 2 assignments per target (1,428 or 1,429 numbers each).
    expect(fake.calls.length).toBe(1 + 10 + 2 * TARGETS.length);
    expect(fake.clock).toBeLessThan(timeoutMs);
  });

  it('starts only what fits when RingCX is slower, and leaves the rest untouched for the next delivery', async () => {
    // A tenant budget shared with other work: one call every 8 s.
    const fake = new FakeRingCx(8_000);
    const requests = newNumbers(10_000);
    const timeoutMs = prod.worker.timeoutSeconds * 1000;
    const results = await syncRows(fake.client, requests, { ...options, remainingMs: fake.remainingMs(timeoutMs), pace: fake.pace() });
    const created = requests.filter((r) => results.get(r.key)?.status === 'done');
    const deferred = requests.filter((r) => results.get(r.key)?.status === 'retry');
    expect(created.length).toBeGreaterThan(0);
    expect(deferred.length).toBeGreaterThan(0);
    expect(created.length + deferred.length).toBe(10_000);
    for (const r of deferred) {
      expect(results.get(r.key)).toMatchObject({ status: 'retry', deferred: true, reason: expect.stringMatching(/^deadline: /) });
      expect(fake.pool.has(r.row.dnis)).toBe(false);
    }
    for (const r of created) expect(fake.assignments.get(r.row.dnis)).toEqual(r.row.target);
    // Nothing was started that could not finish before the invocation's end.
    expect(fake.clock).toBeLessThanOrEqual(timeoutMs);
  });
});
