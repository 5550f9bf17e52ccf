import { describe, expect, it } from 'vitest';
import { fingerprintOf } from '../../../../shared/domain/stateFingerprint';
import { MemoryIntentStore } from '../../../../shared/store/intents';
import type { SyncOptions, SyncRequest, SyncResult } from '../../../../shared/worker/sync/contract';
import { syncRows } from '../../../../shared/worker/sync/syncRows';
import { FakeRingCx, Killed, queue, row } from './fakeRingCx';

const base: SyncOptions = { maxArray: 100, maxRows: 1000, reassignMode: 'unassign-first' };

const done = (result: SyncResult | undefined) => {
  if (result?.status !== 'done') throw new Error(`expected a done result, got ${JSON.stringify(result)}`);
  return result;
};

/** Plans the row as a plan/ run would, and returns the apply request a saved plan makes of it. */
async function savedPlanRequest(fake: FakeRingCx, dnis: string, to: number, extra: Partial<SyncRequest> = {}): Promise<SyncRequest> {
  const planned = done((await syncRows(fake.client, [{ key: 'plan', row: row(dnis, queue(to)), mode: 'plan' }], base)).get('plan')).planned;
  if (!planned) throw new Error('plan mode returned no planned state');
  fake.calls.length = 0;
  return {
    key: 'apply',
    row: row(dnis, queue(to)),
    mode: 'apply',
    expectedState: { snapshot: planned.state, fingerprint: fingerprintOf(planned.state), actions: JSON.parse(JSON.stringify(planned.actions)) },
    ...extra,
  };
}

const writes = (fake: FakeRingCx) => fake.calls.filter((c) => !['findMany', 'getAssignment'].includes(c.endpoint)).map((c) => c.endpoint);

describe('sync engine: a saved plan as precondition', () => {
  it('plan mode reports the actions and the state they were planned against, and writes nothing', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550700', queue(4501));
    const result = done((await syncRows(fake.client, [{ key: 'p', row: row('12125550700', queue(4502)), mode: 'plan' }], base)).get('p'));
    expect(result.planned?.state).toMatchObject({ inPool: true, target: 'queue:4501' });
    expect(result.planned?.actions.map((a) => a.kind)).toEqual(['reassign']);
    expect(writes(fake)).toEqual([]);
  });

  it('applies the planned actions when RingCX still matches the plan', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550701', queue(4501));
    const request = await savedPlanRequest(fake, '12125550701', 4502);
    const result = done((await syncRows(fake.client, [request], base)).get('apply'));
    expect(result).toMatchObject({ outcome: 'reassigned', after: queue(4502) });
    expect(writes(fake)).toEqual(['removeAssignment', 'assign']);
  });

  it('is stale, writing nothing, when the first read differs from the plan', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550702', queue(4501));
    const request = await savedPlanRequest(fake, '12125550702', 4503);
    fake.assignments.set('12125550702', queue(4502));
    const result = done((await syncRows(fake.client, [request], base)).get('apply'));
    expect(result).toMatchObject({ outcome: 'stale', stale: true, detail: 'RingCX changed since the plan: assignment queue:4501 → queue:4502' });
    expect(fake.calls.map((c) => c.endpoint)).toEqual(['findMany']);
  });

  it('is stale when a pool field changed, even with the routing untouched', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550703', queue(4501));
    const request = await savedPlanRequest(fake, '12125550703', 4503);
    (fake.pool.get('12125550703') as { dnisDescription?: string }).dnisDescription = 'Renamed in the portal';
    const result = done((await syncRows(fake.client, [request], base)).get('apply'));
    expect(result).toMatchObject({ outcome: 'stale', detail: 'RingCX changed since the plan: description none → Renamed in the portal' });
    expect(writes(fake)).toEqual([]);
  });

  it('is stale when the number moves between the read and the move (fresh read just before the write)', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550704', queue(4501));
    const request = await savedPlanRequest(fake, '12125550704', 4503);
    fake.onCall = (endpoint) => {
      if (endpoint === 'getAssignment') fake.assignments.set('12125550704', queue(4502));
    };
    const result = done((await syncRows(fake.client, [request], base)).get('apply'));
    expect(result).toMatchObject({ outcome: 'stale', detail: 'RingCX changed since the plan: assignment queue:4501 → queue:4502' });
    expect(writes(fake)).toEqual([]);
    expect(fake.assignments.get('12125550704')).toEqual(queue(4502));
  });

  it('refuses when the same state would now be planned differently', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550705', queue(4501));
    const request = await savedPlanRequest(fake, '12125550705', 4503);
    const tampered: SyncRequest = { ...request, expectedState: { ...(request.expectedState as NonNullable<SyncRequest['expectedState']>), actions: [] } };
    const result = done((await syncRows(fake.client, [tampered], base)).get('apply'));
    expect(result).toMatchObject({ outcome: 'stale', detail: 'the plan no longer matches what this version would do; plan again' });
    expect(writes(fake)).toEqual([]);
  });

  it('a redelivery of its own half-done move finishes it rather than calling it stale', async () => {
    const fake = new FakeRingCx(10);
    const intents = new MemoryIntentStore();
    fake.seed('12125550706', queue(4501));
    const request = await savedPlanRequest(fake, '12125550706', 4503, { intentKey: 'job#apply#2' });
    fake.killAfterCalls = fake.calls.length + 3; // read, fresh read, remove | kill
    await expect(syncRows(fake.client, [request], { ...base, intents })).rejects.toBeInstanceOf(Killed);
    expect(fake.assignments.has('12125550706')).toBe(false);
    fake.killAfterCalls = undefined;
    const result = done((await syncRows(fake.client, [request], { ...base, intents })).get('apply'));
    expect(result).toMatchObject({ outcome: 'reassigned', after: queue(4503) });
    expect(fake.assignments.get('12125550706')).toEqual(queue(4503));
  });

  it('a redelivery whose own attempt died before writing is still stale when someone else moved the number', async () => {
    const fake = new FakeRingCx(10);
    const intents = new MemoryIntentStore();
    fake.seed('12125550707', queue(4501));
    const request = await savedPlanRequest(fake, '12125550707', 4503, { intentKey: 'job#apply#3' });
    fake.killAfterCalls = fake.calls.length + 2; // read, fresh read | kill: the intent is recorded, nothing written
    await expect(syncRows(fake.client, [request], { ...base, intents })).rejects.toBeInstanceOf(Killed);
    fake.killAfterCalls = undefined;
    fake.assignments.set('12125550707', queue(4502));
    fake.calls.length = 0;
    const result = done((await syncRows(fake.client, [request], { ...base, intents })).get('apply'));
    expect(result).toMatchObject({ outcome: 'stale', detail: 'RingCX changed since the plan: assignment queue:4501 → queue:4502' });
    expect(writes(fake)).toEqual([]);
    expect(fake.assignments.get('12125550707')).toEqual(queue(4502));
  });
});
