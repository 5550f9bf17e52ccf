import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { createJobTable } from '../../../../local/aws/dynamodbLocal';
import { demoTenant, type TenantSeed } from '../../../../local/ringcx-simulator/fixtures';
import { type RingCxSimulator, startRingCxSimulator } from '../../../../local/ringcx-simulator/server';
import type { DesiredRow, Target } from '../../../../shared/domain/desiredRow';
import { DynamoIntentStore, rowIntentKey } from '../../../../shared/store/intents';
import { type CallRecord, withCallDeadline, withOwedCalls } from '../../../../shared/ringcx/transport';
import type { SyncOptions, SyncRequest, SyncResult } from '../../../../shared/worker/sync/contract';
import { syncRows } from '../../../../shared/worker/sync/syncRows';
import { limiterFor, testClient } from '../../../helpers/ringcx';
import { seededRandom } from '../../../helpers/random';

/** The worker's engine against the simulator over HTTP, with intent records in DynamoDB Local. */

const MOVING = Array.from({ length: 12 }, (_, i) => `1212555${7100 + i}`);

function seed(): TenantSeed {
  const tenant = demoTenant();
  for (const dnis of MOVING) tenant.pool?.push({ dnis, reservedAccountId: '99990001', dnisDescription: 'Live', assignment: { type: 'gate', id: 4501, dnisDescription: 'Live' } });
  return tenant;
}

let sim: RingCxSimulator;
let intents: DynamoIntentStore;
const base: SyncOptions = { maxArray: 100, maxRows: 1000, reassignMode: 'unassign-first' };
const queue = (id: number): Target => ({ type: 'gate', id });
let job = 0;

beforeAll(async () => {
  sim = await startRingCxSimulator({ seed: seed(), random: seededRandom(11) });
  const table = `intents-${Date.now()}`;
  const endpoint = inject('dynamoEndpoint');
  await createJobTable(endpoint, table);
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  intents = new DynamoIntentStore(db, table, { retentionDays: 1 });
});
afterAll(() => sim?.close());
beforeEach(() => {
  sim.reset();
  sim.setKnobs({ assignConflict: 'conflict', latencyMs: 0, faults: { errorRate: 0, resetRate: 0, timeoutRate: 0, loseAnswerRate: 0, forced429: 0 }, rateLimit: { budget: 100_000, windowMs: 60_000 } });
  job += 1;
});

function row(dnis: string, target: Target | null, extra: Partial<DesiredRow> = {}): DesiredRow {
  return { dnis, e164: `+${dnis}`, accountId: '99990001', category: 'VOICE', active: true, target, assignmentActive: true, onConflict: 'reassign', action: 'upsert', ...extra };
}

function requestsFor(rows: DesiredRow[]): SyncRequest[] {
  return rows.map((r, i) => ({ key: `line-${i + 2}`, row: r, mode: 'apply', intentKey: rowIntentKey(`job-${job}`, i + 2) }));
}

/** Delivers the batch until every row has a final result, as SQS redelivery would. */
async function deliverUntilDone(requests: SyncRequest[], options: SyncOptions, client = testClient(sim).client, maxDeliveries = 30) {
  const final = new Map<string, SyncResult>();
  let pending = requests;
  for (let delivery = 1; delivery <= maxDeliveries && pending.length > 0; delivery++) {
    const results = await syncRows(client, pending, options);
    for (const request of pending) {
      const result = results.get(request.key) as SyncResult;
      if (result.status === 'done') final.set(request.key, result);
    }
    pending = pending.filter((r) => !final.has(r.key));
  }
  expect(pending).toEqual([]);
  return final;
}

const assignmentOf = (dnis: string) => {
  const a = sim.state.assignments.get(dnis);
  return a ? { type: a.type, id: a.id } : undefined;
};

describe('intent records in DynamoDB', () => {
  it('keeps the first intent under a key and reads many keys at once', async () => {
    const key = rowIntentKey(`job-${job}`, 7);
    await intents.record([{ key, dnis: '12125557600', action: 'reassign', from: queue(4501), to: queue(4502), detail: 'move from queue:4501 to queue:4502' }]);
    await intents.record([{ key, dnis: '12125557600', action: 'assign', from: null, to: queue(4502), detail: 'assign to queue:4502' }]);
    const many = Array.from({ length: 150 }, (_, i) => rowIntentKey(`job-${job}`, 100 + i));
    const found = await intents.load([key, ...many]);
    expect([...found.keys()]).toEqual([key]);
    expect(found.get(key)).toMatchObject({ action: 'reassign', from: queue(4501), to: queue(4502), dnis: '12125557600' });
  });
});

describe('lost answers and redeliveries (20% 5xx before the change, 20% answers lost after it)', () => {
  it('reports every new number as created and every move as reassigned, never unchanged; never creates a number twice', async () => {
    sim.setKnobs({ faults: { errorRate: 0.2, loseAnswerRate: 0.2 } });
    const fresh = Array.from({ length: 24 }, (_, i) => row(`1212555${7300 + i}`, queue(4501 + (i % 3))));
    const moves = MOVING.map((dnis) => row(dnis, queue(4503)));
    const requests = requestsFor([...fresh, ...moves]);
    const results = await deliverUntilDone(requests, { ...base, maxArray: 10, intents }, testClient(sim, { retry: { maxAttempts: 2 } }).client);

    const outcomes = requests.map((r) => (results.get(r.key) as Extract<SyncResult, { status: 'done' }>).outcome);
    expect(outcomes.slice(0, fresh.length)).toEqual(fresh.map(() => 'created'));
    expect(outcomes.slice(fresh.length)).toEqual(moves.map(() => 'reassigned'));
    for (const r of fresh) expect(assignmentOf(r.dnis)).toEqual({ type: 'gate', id: (r.target as Target).id });
    for (const dnis of MOVING) expect(assignmentOf(dnis)).toEqual({ type: 'gate', id: 4503 });

    // The faults did strike after changes stood, and no create was sent for a number that existed.
    expect(sim.apiCalls().filter((e) => e.answerLost).length).toBeGreaterThan(0);
    expect(sim.state.events.filter((e) => e.kind === 'duplicate-create')).toEqual([]);
    const confirmed = [...results.values()].filter((r) => r.status === 'done' && r.detail.includes('confirmed by re-reading'));
    expect(confirmed.length).toBeGreaterThan(0);
  });

  it('the transport never repeats a create after an ambiguous failure, but does after a 429', async () => {
    sim.setKnobs({ faults: { errorRate: 1 } });
    const { client } = testClient(sim);
    await expect(client.createDnisPool([{ dnis: '12125557420', reservedAccountId: '99990001' }])).rejects.toMatchObject({ attempts: 1, ambiguous: true });
    expect(sim.apiCalls('createDnisPool')).toHaveLength(1);
    // A 429 was never acted on: repeating it is safe.
    sim.setKnobs({ faults: { errorRate: 0, forced429: 1 } });
    await client.createDnisPool([{ dnis: '12125557421', reservedAccountId: '99990001' }]);
    const statuses = sim.apiCalls('createDnisPool').map((e) => e.status);
    expect([500, 503]).toContain(statuses[0]);
    expect(statuses.slice(1)).toEqual([429, 200]);
  });

  it('a removal whose answer was lost stays ambiguous when its repeats are refused with 429', async () => {
    // The first DELETE stands but its answer is lost; every repeat meets a 429, which RingCX never
    // acted on. The number is unrouted all the same, so the error must say the call may have acted:
    // read as "not removed", the row would wait for a redelivery with its number routing nowhere.
    const dnis = MOVING[0] as string;
    sim.setKnobs({ faults: { loseAnswerRate: 1 } });
    let repeats = 0;
    const { client } = testClient(sim, {
      sleep: async () => {
        if (repeats++ === 0) sim.setKnobs({ faults: { loseAnswerRate: 0, forced429: 4 } });
      },
    });
    const error = await client.removeAssignment(dnis).catch((e: unknown) => e);
    expect(sim.apiCalls('removeAssignment').map((e) => e.status)).toEqual([expect.any(Number), 429, 429, 429, 429]);
    expect(assignmentOf(dnis)).toBeUndefined();
    expect(error).toMatchObject({ status: 429, ambiguous: true });
  });

  it('a redelivery that finds the work done before its outcome was recorded reports it as this job did', async () => {
    const requests = requestsFor([row('12125557410', queue(4502)), row('12125557411', queue(4502))]);
    // The create stands; the assign stands too but its answer is lost, and then RingCX answers
    // nothing but 500s: this delivery ends with the rows to be retried.
    const client = testClient(sim, {
      retry: { maxAttempts: 2 },
      onCall: (call: CallRecord) => {
        if (call.endpoint === 'createDnisPool') sim.setKnobs({ faults: { loseAnswerRate: 1 } });
        if (call.endpoint.startsWith('assign.')) sim.setKnobs({ faults: { loseAnswerRate: 0, errorRate: 1 } });
      },
    }).client;
    const first = await syncRows(client, requests, { ...base, intents });
    expect([...first.values()].map((r) => r.status)).toEqual(['retry', 'retry']);
    for (const request of requests) expect(assignmentOf(request.row.dnis)).toEqual({ type: 'gate', id: 4502 });

    sim.setKnobs({ faults: { errorRate: 0 } });
    const redelivered = await syncRows(testClient(sim).client, requests, { ...base, intents });
    for (const request of requests) {
      expect(redelivered.get(request.key)).toMatchObject({ status: 'done', outcome: 'created', detail: 'create pool record; assign to queue:4502 (confirmed by re-reading)' });
    }
    // Without this job's intent records the same read says "unchanged": what the intents are for.
    const forgetful = await syncRows(testClient(sim).client, requests, base);
    expect([...forgetful.values()].map((r) => r.status === 'done' && r.outcome)).toEqual(['unchanged', 'unchanged']);
  });

  it('a create whose answer is lost is not sent again: the engine re-reads instead', async () => {
    const requests = requestsFor([row('12125557400', null), row('12125557401', null)]);
    // The create goes through, and its answer is lost: only that one.
    const client = testClient(sim, {
      onCall: (call: CallRecord) => {
        if (call.endpoint === 'searchPools') sim.setKnobs({ faults: { loseAnswerRate: sim.apiCalls('createDnisPool').length === 0 ? 1 : 0 } });
        if (call.endpoint === 'createDnisPool') sim.setKnobs({ faults: { loseAnswerRate: 0 } });
      },
    }).client;
    const results = await syncRows(client, requests, { ...base, intents });
    expect(sim.apiCalls('createDnisPool')).toHaveLength(1);
    expect(sim.apiCalls('createDnisPool')[0]?.answerLost).toBe(true);
    for (const request of requests) {
      expect(results.get(request.key)).toMatchObject({ status: 'done', outcome: 'created', detail: 'create pool record (confirmed by re-reading)' });
      expect(sim.state.pool.has(request.row.dnis)).toBe(true);
    }
  });
});

describe('a kill in the middle of a move', () => {
  it('leaves the number half moved only until the redelivery, which finishes it and reports reassigned', async () => {
    const requests = requestsFor(MOVING.slice(0, 3).map((dnis) => row(dnis, queue(4502))));
    let calls = 0;
    const dying = testClient(sim, {
      onCall: () => {
        // search, remove, assign, remove | the process dies as the fourth answer arrives.
        calls += 1;
        if (calls === 4) throw new Error('SIGKILL');
      },
    }).client;
    await expect(syncRows(dying, requests, { ...base, intents })).rejects.toThrow('SIGKILL');
    expect(assignmentOf(MOVING[0] as string)).toEqual({ type: 'gate', id: 4502 });
    expect(assignmentOf(MOVING[1] as string)).toBeUndefined();
    expect(assignmentOf(MOVING[2] as string)).toEqual({ type: 'gate', id: 4501 });

    const results = await syncRows(testClient(sim).client, requests, { ...base, intents });
    for (const [i, request] of requests.entries()) {
      expect(results.get(request.key)).toMatchObject({ status: 'done', outcome: 'reassigned', before: { target: queue(4501) }, after: queue(4502) });
      expect(assignmentOf(MOVING[i] as string)).toEqual({ type: 'gate', id: 4502 });
    }
    const second = results.get(requests[1]?.key as string) as Extract<SyncResult, { status: 'done' }>;
    expect(second.detail).toContain('already removed it from queue:4501');
    expect(second.unroutedMs).toBeUndefined();
  });
});

describe('a precondition on every read', () => {
  it('a 409 re-plan that finds the number routed elsewhere answers stale and moves nothing', async () => {
    const dnis = '12125557500';
    sim.state.pool.set(dnis, { dnis, reservedAccountId: '99990001', dnisDescription: null, dnisCategory: 'VOICE', notes: null, active: true, dateCreated: '', lastModified: '' });
    let routedBySomeoneElse = false;
    const client = testClient(sim, {
      onCall: (call: CallRecord) => {
        // Right after our read, another system routes the number: our assign meets a 409.
        if (call.endpoint === 'searchPools' && !routedBySomeoneElse) {
          routedBySomeoneElse = true;
          sim.state.assignments.set(dnis, { type: 'gate', id: 4503, isActive: true, dnisDescription: null, startDate: '' });
        }
      },
    }).client;
    const results = await syncRows(client, [{ key: 'req', row: row(dnis, queue(4502)), mode: 'apply', expectedCurrent: null }], base);
    expect(results.get('req')).toMatchObject({ status: 'done', outcome: 'conflict', stale: true, detail: 'stale: expected unassigned, found queue:4503', after: queue(4503) });
    expect(sim.apiCalls('assign.gate').map((e) => e.status)).toEqual([409]);
    expect(assignmentOf(dnis)).toEqual({ type: 'gate', id: 4503 });
    expect(sim.state.events.filter((e) => e.dnis === dnis)).toEqual([]);
  });

  it('a move whose number changed just before its write is refused on the fresh read', async () => {
    const dnis = MOVING[5] as string;
    const client = testClient(sim, {
      onCall: (call: CallRecord) => {
        if (call.endpoint === 'searchPools') sim.state.assignments.set(dnis, { type: 'gate', id: 4502, isActive: true, dnisDescription: null, startDate: '' });
      },
    }).client;
    const results = await syncRows(client, [{ key: 'req', row: row(dnis, queue(4503)), mode: 'apply', expectedCurrent: queue(4501) }], base);
    expect(results.get('req')).toMatchObject({ status: 'done', outcome: 'conflict', stale: true, detail: 'stale: expected queue:4501, found queue:4502' });
    expect(sim.apiCalls('removeAssignment')).toHaveLength(0);
    expect(assignmentOf(dnis)).toEqual({ type: 'gate', id: 4502 });
  });
});

describe('the deadline', () => {
  it('starts only the moves that fit; the rest wait untouched, and no number is left unassigned', async () => {
    // 10 requests a second for this instance: 12 moves (25 calls) need about 2.5 s; 1.2 s are left.
    const client = testClient(sim, { limiter: limiterFor(60, 6_000, 1) }).client;
    const deadlineAt = performance.now() + 1_200;
    const requests = requestsFor(MOVING.map((dnis) => row(dnis, queue(4502))));
    const results = await syncRows(client, requests, { ...base, intents, remainingMs: () => deadlineAt - performance.now(), deadlineMarginMs: 200 });

    const retried = requests.filter((r) => results.get(r.key)?.status === 'retry');
    expect(retried.length).toBeGreaterThan(0);
    for (const request of requests) {
      const result = results.get(request.key) as SyncResult;
      if (result.status === 'retry') {
        expect(result.reason).toMatch(/^deadline: /);
        expect(assignmentOf(request.row.dnis)).toEqual({ type: 'gate', id: 4501 });
      } else {
        expect(result).toMatchObject({ outcome: 'reassigned', unroutedMs: expect.any(Number) });
        expect(assignmentOf(request.row.dnis)).toEqual({ type: 'gate', id: 4502 });
      }
    }
    // Every removal in the log is followed directly by the same number's assignment.
    const writes = sim.apiCalls().filter((e) => e.method !== 'POST');
    for (let i = 0; i < writes.length; i += 2) {
      expect(writes[i]?.route).toBe('removeAssignment');
      expect(writes[i + 1]?.route).toBe('assign.gate');
    }
  });

  it('a call stops retrying when another attempt would end too close to the deadline', async () => {
    sim.setKnobs({ faults: { errorRate: 1 } });
    const unbounded = testClient(sim);
    await expect(unbounded.client.getDnisPool('12125550100')).rejects.toMatchObject({ attempts: 5 });
    const bounded = testClient(sim);
    const error = await withCallDeadline({ remainingMs: () => 300, reserveMs: 250 }, () => bounded.client.getDnisPool('12125550100')).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: expect.any(Number), attempts: 1 });
    expect(bounded.sleeps).toEqual([]);
  });

  it('prices a retry with the wait for its turn in the budget', async () => {
    sim.setKnobs({ faults: { errorRate: 1 } });
    // One request per 1.5 s: the first attempt takes the only turn, so a retry would wait about 1.5 s
    // for its turn, then take up to the 2 s request timeout: more than 3 s leaves before the reserve.
    const paced = testClient(sim, { limiter: limiterFor(1, 1_500) });
    const error = await withCallDeadline({ remainingMs: () => 3_000, reserveMs: 250 }, () => paced.client.getDnisPool('12125550100')).catch((e: unknown) => e);
    expect(error).toMatchObject({ attempts: 1 });
    expect(sim.apiCalls()).toHaveLength(1);
  });

  it('gives up waiting for a budget turn once a call could no longer end before the reserve, unless the call is owed', async () => {
    // One request per 1.5 s: the second call waits about 1.5 s for its turn.
    const paced = testClient(sim, { limiter: limiterFor(1, 1_500) });
    await paced.client.getDnisPool('12125550100').catch(() => undefined);
    const error = await withCallDeadline({ remainingMs: () => 1_000, reserveMs: 250 }, () => paced.client.getDnisPool('12125550100')).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'not-sent', retryable: true, ambiguous: false });
    expect(sim.apiCalls()).toHaveLength(1);
    // The assignment a number this call unrouted is owed is sent all the same.
    await withCallDeadline({ remainingMs: () => 1_000, reserveMs: 250 }, () => withOwedCalls(() => paced.client.getDnisPool('12125550100'))).catch(() => undefined);
    expect(sim.apiCalls()).toHaveLength(2);
  });

  it('cuts an attempt that would outlive the deadline short, as a timeout, before the reserve', async () => {
    // The client has seen quick answers; now RingCX takes 1.5 s to answer. The request timeout is
    // 2 s, the deadline 1 s away: the attempt may wait until 250 ms (the reserve) are left.
    const { client } = testClient(sim);
    await client.getDnisPool('12125550100');
    sim.reset();
    sim.setKnobs({ latencyMs: 1_500 });
    const deadlineAt = performance.now() + 1_000;
    const remainingMs = () => deadlineAt - performance.now();
    const error = await withCallDeadline({ remainingMs, reserveMs: 250 }, () => client.getDnisPool('12125550100')).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'timeout', ambiguous: true, attempts: 1 });
    expect(remainingMs()).toBeGreaterThan(100);
    // The request still lands, late, as it would on RingCX; the next test starts after it.
    await vi.waitFor(() => expect(sim.apiCalls()).toHaveLength(1), { timeout: 5_000 });
  });

  it('sends an owed call without its budget turn rather than after the deadline', async () => {
    // RingCX paused the budget for 6 s (a 429 seen by any instance). The deadline is 3 s away: an
    // owed call that waited for its turn would be sent about 3 s after it. It waits only while it
    // could still end at its worst (the 2 s request timeout) before the 250 ms reserve, then goes.
    const limiter = limiterFor(120, 60_000);
    const paused = testClient(sim, { limiter });
    limiter.pause(6_000);
    const deadlineAt = performance.now() + 3_000;
    const remainingMs = () => deadlineAt - performance.now();
    await withCallDeadline({ remainingMs, reserveMs: 250 }, () => withOwedCalls(() => paused.client.getDnisPool('12125550100')));
    expect(remainingMs()).toBeGreaterThan(250);
    expect(sim.apiCalls()).toHaveLength(1);
    // Any other call gives up on the same wait instead, never sent.
    const error = await withCallDeadline({ remainingMs: () => 3_000, reserveMs: 250 }, () => paused.client.getDnisPool('12125550100')).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'not-sent' });
    expect(sim.apiCalls()).toHaveLength(1);
  });

  it('prices a retry at the request timeout: an attempt RingCX may answer slowly is not started unless it ends before the reserve', async () => {
    sim.setKnobs({ faults: { errorRate: 1 } });
    // The first attempt fails fast; a retry (125 ms backoff) at its usual latency would fit 2 s,
    // but at its worst (the 2 s request timeout) it would run past the deadline.
    const tight = testClient(sim);
    const error = await withCallDeadline({ remainingMs: () => 2_000, reserveMs: 250 }, () => tight.client.getDnisPool('12125550100')).catch((e: unknown) => e);
    expect(error).toMatchObject({ attempts: 1 });
    const roomy = testClient(sim);
    const retried = await withCallDeadline({ remainingMs: () => 10_000, reserveMs: 250 }, () => roomy.client.getDnisPool('12125550100')).catch((e: unknown) => e);
    expect(retried).toMatchObject({ attempts: 5 });
  });
});
