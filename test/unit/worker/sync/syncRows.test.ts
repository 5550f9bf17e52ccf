import { describe, expect, it } from 'vitest';
import { MemoryIntentStore } from '../../../../shared/store/intents';
import type { SyncOptions, SyncRequest, SyncResult } from '../../../../shared/worker/sync/contract';
import { syncRows } from '../../../../shared/worker/sync/syncRows';
import { readCurrentState } from '../../../../shared/ringcx/currentState';
import { RingCxAuthError } from '../../../../shared/ringcx/errors';
import { FakeRingCx, Killed, queue, row } from './fakeRingCx';

const base: SyncOptions = { maxArray: 100, maxRows: 1000, reassignMode: 'unassign-first' };

function moves(count: number, from: number, to: number, fake: FakeRingCx, first = 100): SyncRequest[] {
  return Array.from({ length: count }, (_, i) => {
    const dnis = `1212555${first + i}`.padEnd(11, '0');
    fake.seed(dnis, queue(from));
    return { key: `m${i}`, row: row(dnis, queue(to)), mode: 'apply', intentKey: `job#j1#${i + 2}` };
  });
}

const done = (result: SyncResult | undefined) => {
  if (result?.status !== 'done') throw new Error(`expected a done result, got ${JSON.stringify(result)}`);
  return result;
};

/** Options for a call with `leftMs` until its deadline and a `marginMs` margin, on the fake's clock and pace. */
const onFakeDeadline = (fake: FakeRingCx, leftMs: number, marginMs: number): SyncOptions => ({
  ...base,
  remainingMs: fake.remainingMs(leftMs),
  pace: fake.pace(),
  deadlineMarginMs: marginMs,
  now: () => fake.clock,
});

describe('sync engine: deadline', () => {
  it('starts only the moves it can finish; the rest go back untouched as deadline retries', async () => {
    const fake = new FakeRingCx(2_000);
    const requests = moves(20, 4501, 4502, fake);
    // 60 s left, 2 s a call, 5 s margin: the read, then (60 - 2 - 5) / 4 → 13 whole moves at most.
    const results = await syncRows(fake.client, requests, { ...base, remainingMs: fake.remainingMs(60_000), pace: fake.pace(), deadlineMarginMs: 5_000 });

    const moved = requests.filter((r) => results.get(r.key)?.status === 'done');
    const deferred = requests.filter((r) => results.get(r.key)?.status === 'retry');
    expect(moved.length).toBeGreaterThan(5);
    expect(moved.length + deferred.length).toBe(20);
    expect(deferred.length).toBeGreaterThan(0);
    for (const r of moved) {
      expect(done(results.get(r.key)).outcome).toBe('reassigned');
      expect(fake.assignments.get(r.row.dnis)).toEqual(queue(4502));
    }
    for (const r of deferred) {
      expect(results.get(r.key)).toMatchObject({ status: 'retry', reason: expect.stringMatching(/^deadline: /) });
      expect(fake.assignments.get(r.row.dnis)).toEqual(queue(4501));
    }
    // Every call, margin included, ended before the deadline; no number is left unassigned.
    expect(fake.clock).toBeLessThanOrEqual(60_000 - 5_000);
    expect(fake.unassignedSpans.every((s) => s.to !== undefined)).toBe(true);
  });

  it('runs each move back to back: remove and assign of one number are never split by other calls', async () => {
    const fake = new FakeRingCx(500);
    const requests = moves(6, 4501, 4503, fake);
    const results = await syncRows(fake.client, requests, { ...base, now: () => fake.clock });
    const writes = fake.calls.filter((c) => c.endpoint !== 'findMany');
    for (let i = 0; i < writes.length; i += 2) {
      expect(writes[i]?.endpoint).toBe('removeAssignment');
      expect(writes[i + 1]).toMatchObject({ endpoint: 'assign', dnis: writes[i]?.dnis });
    }
    for (const r of requests) expect(done(results.get(r.key)).unroutedMs).toBe(500);
  });

  it('in direct mode a move is one array PUT, with no unrouted gap, after a fresh read when it has a precondition', async () => {
    const fake = new FakeRingCx(500);
    fake.movesOnPut = true;
    const requests = moves(3, 4501, 4502, fake);
    const results = await syncRows(fake.client, requests, { ...base, reassignMode: 'direct' });
    expect(fake.calls.map((c) => c.endpoint)).toEqual(['findMany', 'assign']);
    expect(fake.unassignedSpans).toEqual([]);
    for (const r of requests) expect(done(results.get(r.key))).toMatchObject({ outcome: 'reassigned', unroutedMs: 0 });

    const guarded = moves(1, 4502, 4503, fake, 200).map((r) => ({ ...r, expectedCurrent: queue(4502) }));
    const checked = await syncRows(fake.client, guarded, { ...base, reassignMode: 'direct' });
    expect(fake.calls.slice(2).map((c) => c.endpoint)).toEqual(['findMany', 'getAssignment', 'assign']);
    expect(done(checked.get('m0')).outcome).toBe('reassigned');
  });

  it('sends plain assignments as one array call even under a deadline', async () => {
    const fake = new FakeRingCx(1_000);
    const requests = Array.from({ length: 50 }, (_, i): SyncRequest => ({ key: `n${i}`, row: row(`121255520${String(i).padStart(2, '0')}`, queue(4501)), mode: 'apply' }));
    const results = await syncRows(fake.client, requests, { ...base, remainingMs: fake.remainingMs(10_000), pace: fake.pace(), deadlineMarginMs: 2_000 });
    expect(fake.calls.map((c) => c.endpoint)).toEqual(['findMany', 'createDnisPool', 'assign']);
    expect([...results.values()].every((r) => r.status === 'done' && r.outcome === 'created')).toBe(true);
  });

  it('creates only the tracking numbers it can also assign: none is left created but unrouted', async () => {
    const fake = new FakeRingCx(1_000);
    const requests = Array.from({ length: 30 }, (_, i): SyncRequest => ({
      key: `t${i}`,
      row: row(`121255521${String(i).padStart(2, '0')}`, { type: 'trackingGroup', id: 901 }),
      mode: 'apply',
    }));
    const results = await syncRows(fake.client, requests, { ...base, remainingMs: fake.remainingMs(20_000), pace: fake.pace(), deadlineMarginMs: 2_000 });
    const created = requests.filter((r) => fake.pool.has(r.row.dnis));
    expect(created.length).toBeGreaterThan(5);
    expect(created.length).toBeLessThan(30);
    for (const r of created) {
      expect(fake.assignments.get(r.row.dnis)).toMatchObject({ type: 'trackingGroup', id: 901 });
      expect(results.get(r.key)).toMatchObject({ status: 'done', outcome: 'created' });
    }
    for (const r of requests.filter((q) => !fake.pool.has(q.row.dnis))) expect(results.get(r.key)).toMatchObject({ status: 'retry', reason: expect.stringMatching(/^deadline: /) });
    expect(fake.clock).toBeLessThanOrEqual(18_000);
  });

  it('unassigns one number a call, only as many as fit', async () => {
    const fake = new FakeRingCx(1_000);
    const requests = moves(10, 4501, 4501, fake).map((r) => ({ ...r, row: { ...r.row, action: 'unassign' as const } }));
    const results = await syncRows(fake.client, requests, { ...base, remainingMs: fake.remainingMs(8_000), pace: fake.pace(), deadlineMarginMs: 2_000 });
    const unassigned = requests.filter((r) => !fake.assignments.has(r.row.dnis));
    // 8 s - 2 s margin - 1 s read: five removals.
    expect(unassigned).toHaveLength(5);
    for (const r of unassigned) expect(results.get(r.key)).toMatchObject({ status: 'done', outcome: 'unassigned' });
    expect([...results.values()].filter((r) => r.status === 'retry')).toHaveLength(5);
  });

  it('does not even read when the invocation has no time left', async () => {
    const fake = new FakeRingCx(1_000);
    const requests = moves(2, 4501, 4502, fake);
    const results = await syncRows(fake.client, requests, { ...base, remainingMs: () => 1_500, pace: fake.pace(), deadlineMarginMs: 1_000 });
    expect(fake.calls).toHaveLength(0);
    expect([...results.values()].every((r) => r.status === 'retry' && r.reason.startsWith('deadline: '))).toBe(true);
  });
});

describe('sync engine: a kill mid-move, then redelivery', () => {
  it('finishes a move found half done and reports it as reassigned', async () => {
    const fake = new FakeRingCx(100);
    const intents = new MemoryIntentStore();
    const requests = moves(3, 4501, 4502, fake);
    // Killed right after the second number's removal answered: read, remove, assign, remove | kill.
    fake.killAfterCalls = 4;
    await expect(syncRows(fake.client, requests, { ...base, intents })).rejects.toBeInstanceOf(Killed);
    const [first, second, third] = requests.map((r) => r.row.dnis);
    expect(fake.assignments.get(first as string)).toEqual(queue(4502));
    expect(fake.assignments.has(second as string)).toBe(false);
    expect(fake.assignments.get(third as string)).toEqual(queue(4501));

    fake.killAfterCalls = undefined;
    const results = await syncRows(fake.client, requests, { ...base, intents });
    for (const r of requests) expect(fake.assignments.get(r.row.dnis)).toEqual(queue(4502));
    expect(done(results.get('m0'))).toMatchObject({ outcome: 'reassigned', detail: expect.stringContaining('confirmed by re-reading'), before: { target: queue(4501) } });
    expect(done(results.get('m1'))).toMatchObject({ outcome: 'reassigned', detail: expect.stringContaining('already removed it from queue:4501'), before: { target: queue(4501) } });
    expect(done(results.get('m2')).outcome).toBe('reassigned');
  });

  it('unassigns and new tracking numbers cut off by a kill are reported as what this job did', async () => {
    const fake = new FakeRingCx(100);
    const intents = new MemoryIntentStore();
    fake.seed('12125550700', queue(4501));
    fake.seed('12125550701', queue(4501));
    const requests: SyncRequest[] = [
      { key: 'u0', row: row('12125550700', null, { action: 'unassign' }), mode: 'apply', intentKey: 'job#k#2' },
      { key: 'u1', row: row('12125550701', null, { action: 'unassign' }), mode: 'apply', intentKey: 'job#k#3' },
      { key: 't0', row: row('12125550702', { type: 'trackingGroup', id: 901 }), mode: 'apply', intentKey: 'job#k#4' },
      { key: 't1', row: row('12125550703', { type: 'trackingGroup', id: 901 }), mode: 'apply', intentKey: 'job#k#5' },
    ];
    // read, create (both new numbers), remove, remove, tracking | kill: one tracking number done.
    fake.killAfterCalls = 5;
    await expect(syncRows(fake.client, requests, { ...base, intents })).rejects.toBeInstanceOf(Killed);
    expect(fake.assignments.has('12125550700')).toBe(false);
    expect(fake.assignments.get('12125550702')).toMatchObject({ type: 'trackingGroup', id: 901 });
    expect(fake.assignments.has('12125550703')).toBe(false);
    fake.killAfterCalls = undefined;
    const results = await syncRows(fake.client, requests, { ...base, intents });
    expect(done(results.get('u0'))).toMatchObject({ outcome: 'unassigned', detail: expect.stringContaining('confirmed by re-reading'), before: { target: queue(4501) }, after: null });
    expect(done(results.get('u1')).outcome).toBe('unassigned');
    expect(done(results.get('t0'))).toMatchObject({ outcome: 'created', detail: expect.stringContaining('confirmed by re-reading') });
    expect(done(results.get('t1'))).toMatchObject({ outcome: 'created', detail: expect.stringContaining('created by an earlier attempt') });
    expect(fake.count('createDnisPool')).toBe(1);
    expect(fake.assignments.get('12125550703')).toMatchObject({ type: 'trackingGroup', id: 901 });
  });

  it('without an intent record the same redelivery would misreport (the test can fail)', async () => {
    const fake = new FakeRingCx(100);
    const requests = moves(2, 4501, 4502, fake);
    fake.killAfterCalls = 2;
    await expect(syncRows(fake.client, requests, base)).rejects.toBeInstanceOf(Killed);
    fake.killAfterCalls = undefined;
    const results = await syncRows(fake.client, requests, base);
    expect(done(results.get('m0')).outcome).toBe('assigned');
  });
});

describe('sync engine: lost answers', () => {
  it('re-reads after a create whose answer was lost and never creates twice', async () => {
    const fake = new FakeRingCx(10);
    fake.arm('createDnisPool', { kind: 'after', status: 503 });
    const requests: SyncRequest[] = [0, 1, 2].map((i) => ({ key: `c${i}`, row: row(`1212555040${i}`, queue(4501)), mode: 'apply' }));
    const results = await syncRows(fake.client, requests, base);
    expect(fake.count('createDnisPool')).toBe(1);
    for (const r of requests) {
      expect(done(results.get(r.key))).toMatchObject({ outcome: 'created', detail: expect.stringContaining('confirmed by re-reading') });
      expect(fake.assignments.get(r.row.dnis)).toEqual(queue(4501));
    }
  });

  it('creates again only what the fresh read shows missing', async () => {
    const fake = new FakeRingCx(10);
    fake.arm('createDnisPool', { kind: 'before', status: 503 });
    const requests: SyncRequest[] = [0, 1].map((i) => ({ key: `c${i}`, row: row(`1212555041${i}`, null), mode: 'apply' }));
    const results = await syncRows(fake.client, requests, base);
    expect(fake.count('createDnisPool')).toBe(2);
    expect([...results.values()].map((r) => r.status === 'done' && r.outcome)).toEqual(['created', 'created']);
  });

  it('a redelivery after the work was done, before its outcome was recorded, reports what this job did', async () => {
    const fake = new FakeRingCx(10);
    const intents = new MemoryIntentStore();
    const requests: SyncRequest[] = [{ key: 'r1', row: row('12125550420', queue(4501)), mode: 'apply', intentKey: 'job#j#2' }];
    await syncRows(fake.client, requests, { ...base, intents });
    const again = await syncRows(fake.client, [{ ...requests[0] as SyncRequest, key: 'r1-again' }], { ...base, intents });
    expect(done(again.get('r1-again'))).toMatchObject({ outcome: 'created', detail: 'create pool record; assign to queue:4501 (confirmed by re-reading)' });
    // Another job's intent does not count: a number already as desired is unchanged for it.
    const other = await syncRows(fake.client, [{ ...requests[0] as SyncRequest, key: 'x', intentKey: 'job#other#2' }], { ...base, intents });
    expect(done(other.get('x')).outcome).toBe('unchanged');
  });
});

describe('sync engine: two copies of one row side by side (at-least-once delivery)', () => {
  const dnis = '12125550430';
  const request = (key: string): SyncRequest => ({ key, row: row(dnis, queue(4501)), mode: 'apply', intentKey: 'job#j#7' });
  const theOthersIntent = { key: 'job#j#7', dnis, action: 'create' as const, from: null, to: queue(4501), detail: 'create pool record; assign to queue:4501' };

  it("reports the other copy's create, seen by this copy's read, as created, never unchanged", async () => {
    const fake = new FakeRingCx(10);
    const intents = new MemoryIntentStore();
    // The other copy records its intent, creates and assigns while this copy's search is on its way.
    fake.onCall = (endpoint, count) => {
      if (endpoint !== 'findMany' || count !== 1) return;
      intents.intents.set(theOthersIntent.key, theOthersIntent);
      fake.seed(dnis, queue(4501));
    };
    const results = await syncRows(fake.client, [request('copy-b')], { ...base, intents });
    expect(done(results.get('copy-b'))).toMatchObject({ outcome: 'created', detail: 'create pool record; assign to queue:4501 (confirmed by re-reading)' });
  });

  it("adopts the other copy's intent when it was recorded first, so a create that then meets 409 is still reported as created", async () => {
    const fake = new FakeRingCx(10);
    // The other copy records its intent just after this copy looked for one, and creates the
    // number just before this copy's create, which meets 409.
    const intents = new (class extends MemoryIntentStore {
      override async load(keys: string[]) {
        const found = await super.load(keys);
        if (!this.intents.has(theOthersIntent.key)) this.intents.set(theOthersIntent.key, theOthersIntent);
        return found;
      }
    })();
    fake.onCall = (endpoint) => {
      if (endpoint === 'createDnisPool' && !fake.pool.has(dnis)) fake.seed(dnis);
    };
    const results = await syncRows(fake.client, [request('copy-b')], { ...base, intents });
    expect(fake.count('createDnisPool')).toBe(1);
    expect(fake.assignments.get(dnis)).toEqual(queue(4501));
    expect(done(results.get('copy-b'))).toMatchObject({ outcome: 'created', detail: expect.stringContaining('the pool record was created by an earlier attempt') });
  });

  it("keeps its own intent when the other copy adopted it and then won the create: the 409 is the same job's doing", async () => {
    const fake = new FakeRingCx(10);
    const intents = new MemoryIntentStore();
    // This copy records first; the other finds the key taken, adopts it (marking it), and creates
    // the number just before this copy's create, which meets 409.
    fake.onCall = (endpoint) => {
      if (endpoint !== 'createDnisPool' || fake.pool.has(dnis)) return;
      void intents.markShared([theOthersIntent.key]);
      fake.seed(dnis);
    };
    const results = await syncRows(fake.client, [request('copy-b')], { ...base, intents });
    expect(fake.assignments.get(dnis)).toEqual(queue(4501));
    expect(done(results.get('copy-b'))).toMatchObject({ outcome: 'created', detail: expect.stringContaining('the pool record was created by an earlier attempt') });

    // Unmarked, the same 409 is someone else's create: nothing of it is claimed.
    const other = new FakeRingCx(10);
    const alone = new MemoryIntentStore();
    other.onCall = (endpoint) => {
      if (endpoint === 'createDnisPool' && !other.pool.has(dnis)) other.seed(dnis);
    };
    const theirs = await syncRows(other.client, [request('copy-c')], { ...base, intents: alone });
    expect(done(theirs.get('copy-c'))).toMatchObject({ outcome: 'assigned' });
  });
});

describe('sync engine: precondition', () => {
  const expecting = (dnis: string, to: number, expected: number | null): SyncRequest => ({
    key: 'p',
    row: row(dnis, queue(to)),
    mode: 'apply',
    expectedCurrent: expected === null ? null : queue(expected),
  });

  it('refuses, writing nothing, when the first read disagrees', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550500', queue(4502));
    const results = await syncRows(fake.client, [expecting('12125550500', 4503, 4501)], base);
    expect(done(results.get('p'))).toMatchObject({ outcome: 'conflict', stale: true, detail: 'stale: expected queue:4501, found queue:4502', after: queue(4502) });
    expect(fake.calls.map((c) => c.endpoint)).toEqual(['findMany']);
  });

  it('re-checks on a fresh read just before the move: a number moved meanwhile is not moved again', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550501', queue(4501));
    fake.onCall = (endpoint) => {
      if (endpoint === 'getAssignment') fake.assignments.set('12125550501', queue(4502));
    };
    const results = await syncRows(fake.client, [expecting('12125550501', 4503, 4501)], base);
    expect(done(results.get('p'))).toMatchObject({ stale: true, detail: 'stale: expected queue:4501, found queue:4502' });
    expect(fake.count('removeAssignment')).toBe(0);
    expect(fake.assignments.get('12125550501')).toEqual(queue(4502));
  });

  it('holds on the re-plan read after a 409', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550502');
    // Between the read and the assign, someone else routes the number: the assign answers 409.
    fake.onCall = (endpoint) => {
      if (endpoint === 'assign' && !fake.assignments.has('12125550502')) fake.assignments.set('12125550502', queue(4502));
    };
    const results = await syncRows(fake.client, [expecting('12125550502', 4503, null)], base);
    expect(done(results.get('p'))).toMatchObject({ stale: true, detail: 'stale: expected unassigned, found queue:4502' });
    expect(fake.assignments.get('12125550502')).toEqual(queue(4502));
  });

  it('a redelivery of its own half-done move still meets the expectation and finishes it', async () => {
    const fake = new FakeRingCx(10);
    const intents = new MemoryIntentStore();
    fake.seed('12125550503', queue(4501));
    const request = { ...expecting('12125550503', 4503, 4501), intentKey: 'request#abc' };
    fake.killAfterCalls = 3; // read, fresh read, remove | kill
    await expect(syncRows(fake.client, [request], { ...base, intents })).rejects.toBeInstanceOf(Killed);
    expect(fake.assignments.has('12125550503')).toBe(false);
    fake.killAfterCalls = undefined;
    const results = await syncRows(fake.client, [request], { ...base, intents });
    expect(done(results.get('p'))).toMatchObject({ outcome: 'reassigned', before: { target: queue(4501) }, after: queue(4503) });
    expect(fake.assignments.get('12125550503')).toEqual(queue(4503));
  });
});

describe('sync engine: a refused move', () => {
  it('puts the number back on its old target when RingCX refuses the new one', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550600', queue(4501));
    fake.arm('assign', { kind: 'before', status: 400 });
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550600', queue(9999)), mode: 'apply' }], base);
    expect(done(results.get('x'))).toMatchObject({ outcome: 'failed', detail: expect.stringContaining('put back on gate:4501') });
    expect(fake.assignments.get('12125550600')).toEqual(queue(4501));
  });

  it('finishes a move whose assign failed near the deadline on the margin, instead of deferring it unrouted', async () => {
    const fake = new FakeRingCx(1_000);
    fake.seed('12125550602', queue(4501));
    fake.arm('assign', { kind: 'before', status: 503 });
    // 6 s left and a 2 s margin: the read and the move's two calls fit; after the failed assign,
    // the re-read and the second assign no longer would.
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550602', queue(4502)), mode: 'apply' }], onFakeDeadline(fake, 6_000, 2_000));
    expect(done(results.get('x'))).toMatchObject({ outcome: 'reassigned' });
    expect(fake.assignments.get('12125550602')).toEqual(queue(4502));
    expect(fake.unassignedSpans.every((span) => span.to !== undefined)).toBe(true);
    // Within the invocation: the margin was spent, not the deadline.
    expect(fake.clock).toBeLessThanOrEqual(6_000);
  });

  it('finishes a move in the same call when the assign answer is lost', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550601', queue(4501));
    fake.arm('assign', { kind: 'before', status: 503 });
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550601', queue(4502)), mode: 'apply' }], { ...base, now: () => fake.clock });
    expect(done(results.get('x'))).toMatchObject({ outcome: 'reassigned', before: { target: queue(4501) } });
    // remove answered → failed assign → re-read → assign answered: three calls of 10 ms.
    expect(done(results.get('x')).unroutedMs).toBe(30);
    expect(fake.assignments.get('12125550601')).toEqual(queue(4502));
  });
});

describe('sync engine: a number this call unrouted is finished before the call ends', () => {

  it('a removal whose answer was lost, found to have stood, is finished on the margin', async () => {
    const fake = new FakeRingCx(1_000);
    fake.seed('12125550610', queue(4501));
    fake.arm('removeAssignment', { kind: 'after', status: 503 });
    // read, remove (answer lost), re-read: 3 s of 5; the assign no longer fits before the 2 s margin, but it
    // is owed to a number this call may have unrouted, and takes the margin.
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550610', queue(4502)), mode: 'apply' }], onFakeDeadline(fake, 5_000, 2_000));
    expect(done(results.get('x'))).toMatchObject({ outcome: 'reassigned' });
    expect(fake.assignments.get('12125550610')).toEqual(queue(4502));
    expect(fake.unassignedSpans.filter((span) => span.to === undefined)).toEqual([]);
    expect(fake.clock).toBeLessThanOrEqual(5_000);
  });

  it('starts a move only with time for its assignment at its worst (the request timeout) after the removal', async () => {
    const fake = new FakeRingCx(1_000);
    fake.seed('12125550613', queue(4501));
    fake.seed('12125550614', queue(4501));
    // After the read, 5 s left: at the usual pace a move needs 2 s plus the 1 s margin, but should
    // RingCX slow to its 3 s request timeout, the assignment after the removal would be cut off.
    const options = { ...onFakeDeadline(fake, 6_000, 1_000), pace: fake.pace(3_000) };
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550613', queue(4502)), mode: 'apply' }], options);
    expect(results.get('x')).toMatchObject({ status: 'retry', deferred: true });
    expect(fake.count('removeAssignment')).toBe(0);
    // With 7 s the worst case fits, and the move goes ahead.
    const roomy = await syncRows(fake.client, [{ key: 'y', row: row('12125550614', queue(4502)), mode: 'apply' }], { ...options, remainingMs: fake.remainingMs(fake.clock + 7_000) });
    expect(done(roomy.get('y'))).toMatchObject({ outcome: 'reassigned' });
  });

  it('checks the deadline again once the budget has given a move its turns: a long wait defers it, its number still routed', async () => {
    const fake = new FakeRingCx(1_000);
    fake.seed('12125550615', queue(4501));
    fake.seed('12125550616', queue(4501));
    // Admitted with room (8 s after the read, a move needs 2 s + the 3 s worst case + 1 s margin),
    // but the budget then keeps it waiting 3 s: the removal would leave too little for the assignment.
    const options = { ...onFakeDeadline(fake, 9_000, 1_000), pace: fake.pace(3_000) };
    fake.reserveWaitMs = 3_000;
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550615', queue(4502)), mode: 'apply' }], options);
    expect(results.get('x')).toMatchObject({ status: 'retry', deferred: true, reason: expect.stringMatching(/^deadline: /) });
    expect(fake.count('removeAssignment')).toBe(0);
    expect(fake.assignments.get('12125550615')).toEqual(queue(4501));
    // A short wait leaves the move its room, and it goes ahead.
    fake.reserveWaitMs = 500;
    const roomy = await syncRows(fake.client, [{ key: 'y', row: row('12125550616', queue(4502)), mode: 'apply' }], { ...options, remainingMs: fake.remainingMs(fake.clock + 9_000) });
    expect(done(roomy.get('y'))).toMatchObject({ outcome: 'reassigned' });
  });

  it("reserves a turn for each attempt its assignment is priced for, so a retried assignment never waits in the budget queue", async () => {
    const healthy = new FakeRingCx(10);
    const requests = moves(1, 4501, 4502, healthy);
    await syncRows(healthy.client, requests, { ...base, remainingMs: healthy.remainingMs(60_000), pace: healthy.pace(), deadlineMarginMs: 1_000 });
    expect(healthy.reservations).toEqual([2]);
    // Three in ten recent attempts failed: as many assignment attempts are priced as make it unlikely
    // that all of them fail (four), capped at the client's three.
    const struggling = new FakeRingCx(10);
    const more = moves(1, 4501, 4502, struggling);
    const pace = { ...struggling.pace(100), failureRate: () => 0.3, maxAttempts: () => 3 };
    await syncRows(struggling.client, more, { ...base, remainingMs: struggling.remainingMs(60_000), pace, deadlineMarginMs: 1_000 });
    expect(struggling.reservations).toEqual([4]);
  });

  it("waits for a move's budget turns only until the margin: turns that do not come in time defer it, its number still routed", async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550618', queue(4501));
    fake.reserveHangs = true;
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550618', queue(4502)), mode: 'apply' }], onFakeDeadline(fake, 1_300, 1_000));
    expect(results.get('x')).toMatchObject({ status: 'retry', deferred: true });
    expect(fake.count('removeAssignment')).toBe(0);
    expect(fake.assignments.get('12125550618')).toEqual(queue(4501));
  });

  it('after a removal whose answer was lost, a failed re-read is tried again, and the read decides', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550615', queue(4501));
    fake.arm('removeAssignment', { kind: 'after', status: 503 });
    fake.onCall = (endpoint) => {
      if (endpoint === 'removeAssignment' && fake.count('findMany') === 1) fake.arm('findMany', { kind: 'before', status: 503 });
    };
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550615', queue(4502)), mode: 'apply' }], { ...base, now: () => fake.clock });
    expect(done(results.get('x'))).toMatchObject({ outcome: 'reassigned', after: queue(4502) });
    expect(fake.count('findMany')).toBe(3);
    expect(fake.unassignedSpans.filter((span) => span.to === undefined)).toEqual([]);
  });

  it('after a removal whose answer was lost, reads that keep failing send nothing blind: the row waits for a read', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550616', queue(4501));
    fake.arm('removeAssignment', { kind: 'after', status: 503 });
    fake.onCall = (endpoint) => {
      if (endpoint === 'removeAssignment' && fake.count('findMany') === 1) fake.arm('findMany', { kind: 'before', status: 503 }, 100);
    };
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550616', queue(4502)), mode: 'apply' }], { ...base, now: () => fake.clock });
    expect(results.get('x')).toMatchObject({ status: 'retry' });
    expect(fake.count('assign')).toBe(0);
    // The first read, then four reads of the owed number.
    expect(fake.count('findMany')).toBe(5);
  });

  it('a removal refused outright owes nothing: the row waits, still on its old target', async () => {
    const fake = new FakeRingCx(1_000);
    fake.seed('12125550611', queue(4501));
    fake.arm('removeAssignment', { kind: 'before', status: 503 });
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550611', queue(4502)), mode: 'apply' }], onFakeDeadline(fake, 6_000, 2_000));
    expect(results.get('x')).toMatchObject({ status: 'retry' });
    expect(fake.assignments.get('12125550611')).toEqual(queue(4501));
    expect(fake.unassignedSpans).toEqual([]);
  });

  it('when the re-read after a failed assign fails too, the owed assignment is sent without it', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550612', queue(4501));
    fake.arm('assign', { kind: 'before', status: 503 });
    fake.onCall = (endpoint) => {
      if (endpoint === 'assign' && fake.count('findMany') === 1) fake.arm('findMany', { kind: 'before', status: 503 });
    };
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550612', queue(4502)), mode: 'apply' }], { ...base, now: () => fake.clock });
    expect(done(results.get('x'))).toMatchObject({ outcome: 'reassigned', before: { target: queue(4501) }, after: queue(4502) });
    expect(fake.assignments.get('12125550612')).toEqual(queue(4502));
    expect(fake.unassignedSpans.filter((span) => span.to === undefined)).toEqual([]);
  });
});

describe('sync engine: a number unrouted near the deadline', () => {
  it('gets its assignment without a re-read when a read and an assignment no longer fit', async () => {
    const fake = new FakeRingCx(1_000);
    fake.seed('12125550620', queue(4501));
    fake.arm('assign', { kind: 'before', status: 503 });
    // read, remove, failed assign: 3 s of 5.5 with a 1 s margin; a read and an assignment (2 s + margin) no longer fit.
    const results = await syncRows(fake.client, [{ key: 'x', row: row('12125550620', queue(4502)), mode: 'apply' }], onFakeDeadline(fake, 5_500, 1_000));
    expect(done(results.get('x'))).toMatchObject({ outcome: 'reassigned', after: queue(4502) });
    expect(fake.count('findMany')).toBe(1);
    expect(fake.assignments.get('12125550620')).toEqual(queue(4502));
    expect(fake.clock).toBeLessThanOrEqual(5_500);
  });
});

describe('sync engine: an assignment that fails right after its removal', () => {
  it('is sent again at once, before any other number is touched, not after a re-read in a later round', async () => {
    const fake = new FakeRingCx(100);
    fake.seed('12125550630', queue(4501));
    fake.seed('12125550631', queue(4501));
    fake.arm('assign', { kind: 'before', status: 503 }, 2);
    const results = await syncRows(
      fake.client,
      [
        { key: 'a', row: row('12125550630', queue(4502)), mode: 'apply' },
        { key: 'b', row: row('12125550631', queue(4502)), mode: 'apply' },
      ],
      onFakeDeadline(fake, 60_000, 1_000),
    );
    expect(done(results.get('a'))).toMatchObject({ outcome: 'reassigned', after: queue(4502) });
    expect(done(results.get('b'))).toMatchObject({ outcome: 'reassigned', after: queue(4502) });
    expect(fake.calls.map((c) => `${c.endpoint} ${c.dnis.join()}`)).toEqual([
      'findMany 12125550630,12125550631',
      'removeAssignment 12125550630',
      'assign 12125550630',
      'assign 12125550630',
      'assign 12125550630',
      'removeAssignment 12125550631',
      'assign 12125550631',
    ]);
    // Three assignment calls after the removal answered, 100 ms each.
    expect(done(results.get('a')).unroutedMs).toBe(300);
  });


  it('holds back every other move of the invocation while that number is not on its new target', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550633', queue(4501));
    fake.seed('12125550634', queue(4501));
    // No deadline: the failed assignment waits for the next round's read, and meanwhile nothing else is unrouted.
    fake.arm('assign', { kind: 'before', status: 503 });
    const results = await syncRows(
      fake.client,
      [
        { key: 'a', row: row('12125550633', queue(4502)), mode: 'apply' },
        { key: 'b', row: row('12125550634', queue(4502)), mode: 'apply' },
      ],
      { ...base, now: () => fake.clock },
    );
    expect(done(results.get('a'))).toMatchObject({ outcome: 'reassigned', after: queue(4502) });
    expect(results.get('b')).toMatchObject({ status: 'retry', deferred: true, reason: expect.stringContaining('no other number is unrouted meanwhile') });
    expect(fake.calls.filter((c) => c.endpoint === 'removeAssignment').map((c) => c.dnis.join())).toEqual(['12125550633']);
    expect(fake.assignments.get('12125550634')).toEqual(queue(4501));
  });
});


describe('sync engine: an error from outside RingCX in the middle of a move', () => {

  it('sends the owed assignment before the error goes on up: the number is not left unrouted until a redelivery', async () => {
    const fake = new FakeRingCx(100);
    fake.seed('12125550640', queue(4501));
    fake.seed('12125550641', queue(4501));
    // The cached token ran out during an auth outage, between the removal and the assignment.
    fake.arm('assign', { kind: 'throw', error: new RingCxAuthError('the RingCX token in the secret has expired') });
    const sync = syncRows(
      fake.client,
      [
        { key: 'a', row: row('12125550640', queue(4502)), mode: 'apply' },
        { key: 'b', row: row('12125550641', queue(4502)), mode: 'apply' },
      ],
      onFakeDeadline(fake, 60_000, 1_000),
    );
    // The batch is still retried as a whole (not a verdict on any row)...
    await expect(sync).rejects.toBeInstanceOf(RingCxAuthError);
    // ...but the number it had unrouted is on its new target by then, and no other move was started.
    expect(fake.assignments.get('12125550640')).toEqual(queue(4502));
    expect(fake.assignments.get('12125550641')).toEqual(queue(4501));
    expect(fake.unassignedSpans).toEqual([{ dnis: '12125550640', from: 200, to: 400 }]);
  });

  it('sends the owed assignment once more when the rescue after a re-read fails in a way that ends the rounds', async () => {
    const fake = new FakeRingCx(10);
    fake.seed('12125550644', queue(4501));
    // The move's assignment fails (a re-read follows); the rescue assignment after it is refused
    // with a 429 the client gave up on, which leaves the row to a later delivery.
    fake.arm('assign', { kind: 'before', status: 503 });
    fake.arm('assign', { kind: 'before', status: 429 });
    const results = await syncRows(fake.client, [{ key: 'a', row: row('12125550644', queue(4502)), mode: 'apply' }], { ...base, now: () => fake.clock });
    expect(fake.calls.map((c) => c.endpoint)).toEqual(['findMany', 'removeAssignment', 'assign', 'findMany', 'assign', 'assign']);
    expect(done(results.get('a'))).toMatchObject({ outcome: 'reassigned', after: queue(4502) });
    expect(fake.unassignedSpans.filter((span) => span.to === undefined)).toEqual([]);

    // Still refused: the row is left to its next delivery, never reported final while its number is unrouted.
    const stuck = new FakeRingCx(10);
    stuck.seed('12125550645', queue(4501));
    stuck.arm('assign', { kind: 'before', status: 503 });
    stuck.arm('assign', { kind: 'before', status: 429 }, 2);
    const left = await syncRows(stuck.client, [{ key: 'b', row: row('12125550645', queue(4502)), mode: 'apply' }], { ...base, now: () => stuck.clock });
    expect(left.get('b')).toMatchObject({ status: 'retry', reason: expect.stringContaining('the next delivery finishes the move') });
  });

  it('tries that assignment again while one more attempt fits, and gives up only at the deadline', async () => {
    const timeout = Object.assign(new Error('[AbortError]: The operation was aborted'), { name: 'TimeoutError' });
    const fake = new FakeRingCx(100);
    fake.seed('12125550642', queue(4501));
    fake.arm('assign', { kind: 'throw', error: timeout }, 3);
    await expect(syncRows(fake.client, [{ key: 'a', row: row('12125550642', queue(4502)), mode: 'apply' }], onFakeDeadline(fake, 60_000, 1_000))).rejects.toBe(timeout);
    expect(fake.calls.map((c) => c.endpoint)).toEqual(['findMany', 'removeAssignment', 'assign', 'assign', 'assign', 'assign']);
    expect(fake.assignments.get('12125550642')).toEqual(queue(4502));

    // Attempts stop once one more, at its worst (1 s here, after a pause), would end inside half
    // the margin: 3 s left, 300 ms a call, the move admitted with room for one worst-case assignment.
    const late = new FakeRingCx(300);
    late.seed('12125550643', queue(4501));
    late.arm('assign', { kind: 'throw', error: timeout }, 10);
    const lateOptions = { ...base, remainingMs: late.remainingMs(3_000), pace: late.pace(1_000), deadlineMarginMs: 1_000, now: () => late.clock };
    await expect(syncRows(late.client, [{ key: 'a', row: row('12125550643', queue(4502)), mode: 'apply' }], lateOptions)).rejects.toBe(timeout);
    expect(late.count('assign')).toBe(3);
    expect(late.clock).toBeLessThanOrEqual(3_000 - 500);
    expect(late.assignments.has('12125550643')).toBe(false);
  });
});

describe('sync engine: a read the caller made just before', () => {
  it('plans its first round on it, without searching again; a read missing a number is not used', async () => {
    const fake = new FakeRingCx(500);
    const [request] = moves(1, 4501, 4503, fake);
    const firstRead = await readCurrentState(fake.client, [request!.row.dnis], 1);
    const callsBefore = fake.calls.length;
    const results = await syncRows(fake.client, [request!], { ...base, firstRead });
    expect(fake.calls.slice(callsBefore).map((c) => c.endpoint)).toEqual(['removeAssignment', 'assign']);
    expect(done(results.get(request!.key)).outcome).toBe('reassigned');

    const [other] = moves(1, 4501, 4502, fake, 300);
    const elsewhere = await readCurrentState(fake.client, ['12125559999'], 1);
    const before = fake.calls.length;
    await syncRows(fake.client, [other!], { ...base, firstRead: elsewhere });
    expect(fake.calls.slice(before).map((c) => c.endpoint)).toEqual(['findMany', 'removeAssignment', 'assign']);
  });

});
