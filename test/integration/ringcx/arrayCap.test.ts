import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ARRAY_TOO_LARGE_CODE } from '../../../local/ringcx-simulator/arrayCap';
import { KnobsSchema } from '../../../local/ringcx-simulator/knobs';
import { type RingCxSimulator, startRingCxSimulator } from '../../../local/ringcx-simulator/server';
import { loadFunctionConfig, WorkerConfigSchema } from '../../../shared/config';
import type { DesiredRow, Target } from '../../../shared/domain/desiredRow';
import { arrayTooLarge, RingCxError } from '../../../shared/ringcx/errors';
import { forgetLearnedArrayCaps } from '../../../shared/worker/sync/applyArray';
import type { SyncOptions, SyncRequest } from '../../../shared/worker/sync/contract';
import { syncRows } from '../../../shared/worker/sync/syncRows';
import { RESOURCE_NAMES_FOR_TESTS } from '../../helpers/functionEnv';
import { testClient } from '../../helpers/ringcx';

/** The simulator's array cap (knob `maxArray`) and the engine's answer to it: halves, never a write twice. */

let sim: RingCxSimulator;
beforeAll(async () => {
  sim = await startRingCxSimulator();
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.reset();
  sim.setKnobs({ maxArray: 1000, assignConflict: 'conflict', rateLimit: { budget: 100_000, windowMs: 60_000 } });
  forgetLearnedArrayCaps();
});

const number = (i: number) => `1212770${String(i).padStart(4, '0')}`;
const pool = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ dnis: number(from + i), reservedAccountId: '99990001' }));

async function refusal(promise: Promise<unknown>): Promise<RingCxError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(RingCxError);
  return error as RingCxError;
}

describe('simulator: arrays longer than the maxArray knob', () => {
  it('defaults to 1,000 items, the documented assumption', () => {
    expect(KnobsSchema.parse({}).maxArray).toBe(1000);
    // The client sends as many as the simulator takes by default.
    expect(loadFunctionConfig(WorkerConfigSchema, RESOURCE_NAMES_FOR_TESTS).RINGCX_MAX_ARRAY).toBe(1000);
  });

  it('refuses a too-long create whole with 413 and an errorCode, and stores none of it', async () => {
    sim.setKnobs({ maxArray: 3 });
    const { client } = testClient(sim);
    const error = await refusal(client.createDnisPool(pool(4)));
    expect(error.status).toBe(413);
    expect(error.errorCode).toBe(ARRAY_TOO_LARGE_CODE);
    expect(error.generalMessage).toMatch(/At most 3 records/);
    expect(error.retryable).toBe(false);
    expect(arrayTooLarge(error, 4)?.limit).toBe(3);
    expect([...sim.state.pool.keys()].filter((d) => d.startsWith('1212770'))).toEqual([]);
    // Exactly the cap is taken.
    await client.createDnisPool(pool(3));
    expect(sim.state.pool.has(number(2))).toBe(true);
  });

  it('caps pool updates, bulk updates and every voice assignment endpoint', async () => {
    const { client } = testClient(sim);
    await client.createDnisPool(pool(4));
    sim.setKnobs({ maxArray: 3 });
    const items = pool(4).map((r) => ({ dnis: r.dnis, isActive: true }));
    for (const call of [
      () => client.updateDnisPool(pool(4)),
      () => client.updateBulkDnisPool(pool(4)),
      () => client.assign('gate', 4501, items),
      () => client.assign('visualIvr', 701, items),
      () => client.assign('cloudRouteProfile', 801, items),
    ]) {
      expect((await refusal(call())).status).toBe(413);
    }
    expect(pool(4).some((r) => sim.state.assignments.has(r.dnis))).toBe(false);
    await client.assign('gate', 4501, items.slice(0, 3));
    expect(sim.state.assignments.has(number(0))).toBe(true);
  });
});

describe('engine: arrays RingCX refuses as too large', () => {
  const options: SyncOptions = { maxArray: 1000, maxRows: 1000, reassignMode: 'unassign-first' };
  const row = (dnis: string, target: Target | null): DesiredRow => ({ dnis, e164: `+${dnis}`, accountId: '99990001', category: 'VOICE', active: true, target, assignmentActive: true, onConflict: 'fail', action: 'upsert' });

  it('halves, applies every create and assignment exactly once, and starts later batches at the learned cap', async () => {
    sim.setKnobs({ maxArray: 150 });
    const { client } = testClient(sim);
    const targets: Target[] = [{ type: 'gate', id: 4501 }, { type: 'visualIvr', id: 701 }];
    const requests: SyncRequest[] = Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, row: row(number(i), targets[i % 2] as Target), mode: 'apply' }));
    const results = await syncRows(client, requests, options);
    expect([...results.values()].every((r) => r.status === 'done' && r.outcome === 'created')).toBe(true);

    const accepted = (route: string) => sim.apiCalls(route).filter((e) => e.status === 200);
    const createdOnce = accepted('createDnisPool').flatMap((e) => (e.body as { dnis: string }[]).map((r) => r.dnis));
    expect(createdOnce.length).toBe(500);
    expect(new Set(createdOnce).size).toBe(500);
    const assignedOnce = [...accepted('assign.gate'), ...accepted('assign.visualIvr')].flatMap((e) => (e.body as { dnis: string }[]).map((r) => r.dnis));
    expect(assignedOnce.length).toBe(500);
    expect(new Set(assignedOnce).size).toBe(500);
    expect(sim.apiCalls().filter((e) => e.status === 413).length).toBeGreaterThan(0);

    // A second batch starts at the caps learned above: not one array is refused.
    const refusedBefore = sim.apiCalls().filter((e) => e.status === 413).length;
    const more: SyncRequest[] = Array.from({ length: 500 }, (_, i) => ({ key: `m${i}`, row: row(number(1000 + i), targets[i % 2] as Target), mode: 'apply' }));
    const second = await syncRows(client, more, options);
    expect([...second.values()].every((r) => r.status === 'done' && r.outcome === 'created')).toBe(true);
    expect(sim.apiCalls().filter((e) => e.status === 413).length).toBe(refusedBefore);
  });
});
