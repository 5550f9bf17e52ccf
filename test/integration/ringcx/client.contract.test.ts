import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RingCxError } from '../../../shared/ringcx/errors';
import { type RingCxSimulator, startRingCxSimulator } from '../../../local/ringcx-simulator/server';
import { testClient } from '../../helpers/ringcx';

const TN = '/voice/api/v1/admin/utilities/tnManager';

let sim: RingCxSimulator;

beforeAll(async () => {
  sim = await startRingCxSimulator();
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.reset();
  sim.setKnobs({ searchShape: 'guide', assignConflict: 'conflict', faults: { errorRate: 0, timeoutRate: 0, resetRate: 0, forced429: 0, hangMs: 30_000 }, rateLimit: { budget: 120, windowMs: 60_000, retryAfter: true } });
});

const lastBody = (route: string) => sim.apiCalls(route).at(-1)?.body;

async function rejection(promise: Promise<unknown>): Promise<RingCxError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RingCxError);
  return error as RingCxError;
}

describe('DNIS pool operations', () => {
  it('creates records atomically with RingCX field names and the wire form of the number', async () => {
    const { client } = testClient(sim);
    const created = await client.createDnisPool([
      { dnis: '+12125550150', reservedAccountId: '99990001', dnisDescription: 'New line', dnisCategory: 'VOICE', active: true, notes: 'n1' },
      { dnis: '12125550151', reservedAccountId: '99990002' },
    ]);
    expect(created.map((r) => r.dnis)).toEqual(['12125550150', '12125550151']);
    expect(lastBody('createDnisPool')).toEqual([
      { dnis: '12125550150', dnisE164: '+12125550150', reservedAccountId: '99990001', dnisDescription: 'New line', dnisCategory: 'VOICE', active: true, notes: 'n1' },
      { dnis: '12125550151', dnisE164: '+12125550151', reservedAccountId: '99990002' },
    ]);
    expect(typeof sim.state.pool.get('12125550151')?.reservedAccountId).toBe('string');
  });

  it('stores none of an array when one record is a duplicate (409)', async () => {
    const { client } = testClient(sim);
    const error = await rejection(
      client.createDnisPool([
        { dnis: '12125550160', reservedAccountId: '99990001' },
        { dnis: '12125550100', reservedAccountId: '99990001' },
      ]),
    );
    expect(error.status).toBe(409);
    expect(error.retryable).toBe(false);
    expect(error.attempts).toBe(1);
    expect(sim.state.pool.has('12125550160')).toBe(false);
  });

  it('answers 400 with a reason for an invalid DNIS', async () => {
    const { client } = testClient(sim);
    const error = await rejection(client.createDnisPool([{ dnis: '12345', reservedAccountId: '99990001' }]));
    expect(error.status).toBe(400);
    expect(error.generalMessage).toMatch(/Invalid DNIS/);
  });

  it('updates records with a PUT of an array', async () => {
    const { client } = testClient(sim);
    const updated = await client.updateDnisPool([{ dnis: '12125550102', dnisDescription: 'Renamed', active: false }]);
    expect(updated[0]).toMatchObject({ dnis: '12125550102', dnisDescription: 'Renamed', active: false });
    expect(lastBody('updateDnisPool')).toEqual([{ dnis: '12125550102', dnisE164: '+12125550102', dnisDescription: 'Renamed', active: false }]);
  });

  it('gets one pool record with its assignment inline, and 404 for an unknown one', async () => {
    const { client } = testClient(sim);
    const record = await client.getDnisPool('+12125550100');
    expect(record).toMatchObject({ dnis: '12125550100', reservedAccountId: '99990001', assignedDnis: { gate: { gateId: 4501 } } });
    const error = await rejection(client.getDnisPool('12125550199'));
    expect(error.status).toBe(404);
  });

  it('bulk-updates and reads updatedRows as a string', async () => {
    const { client } = testClient(sim);
    const result = await client.updateBulkDnisPool([
      { dnis: '12125550100', notes: 'audited' },
      { dnis: '12125550102', notes: 'audited' },
    ]);
    expect(result).toMatchObject({ status: 'SUCCESS', updatedRows: '2' });
    expect(sim.state.pool.get('12125550102')?.notes).toBe('audited');
  });

  it('uploads a pool file as multipart part "file" with fileType=COMMA', async () => {
    const { client } = testClient(sim);
    const csv = 'dnis,dnisDescription,reservedAccountId\n12125550170,"Line, with comma",99990001\n12125550171,Plain,99990001\nbad,Nope,99990001\n';
    const result = await client.uploadDnisPool(csv, { quoteCharacter: '"' });
    expect(result.uploadStatus).toMatchObject({ totalRecords: 3, validRecords: 2, validated: true });
    expect(result.uploadStatus?.errorMessage?.[0]).toMatch(/invalid DNIS/);
    expect(sim.state.pool.get('12125550170')?.dnisDescription).toBe('Line, with comma');
    const call = sim.apiCalls('uploadDnisPool').at(-1);
    expect(call?.status).toBe(200);
  });

  it('answers 409 for a number duplicated inside one upload', async () => {
    const { client } = testClient(sim);
    const error = await rejection(client.uploadDnisPool('dnis,reservedAccountId\n12125550180,99990001\n12125550180,99990001\n'));
    expect(error.status).toBe(409);
  });
});

describe('search', () => {
  it.each(['guide', 'spec'] as const)('parses the %s result shape of searchDnis', async (shape) => {
    sim.setKnobs({ searchShape: shape });
    const { client } = testClient(sim);
    const result = await client.searchDnis({ searchText: '1212555010' });
    expect(result.records.map((r) => r.dnis)).toEqual(['12125550100', '12125550101', '12125550102']);
    expect(result.records.every((r) => r.reservedAccountId === '99990001')).toBe(true);
    expect(result.total).toBe(3);
  });

  it('matches one number exactly, never by substring', async () => {
    const { client } = testClient(sim);
    await client.createDnisPool([{ dnis: '12125550100'.slice(1) + '9', reservedAccountId: '99990002' }]);
    // 21255501009 contains 2125550100 as a substring; searching the 11-digit number must not return it.
    expect((await client.findDnis('+12125550100'))?.dnis).toBe('12125550100');
    expect(await client.findDnis('2125550100')).toBeUndefined();
    expect(lastBody('searchDnis')).toEqual({ searchText: '2125550100' });
  });

  it('pages searchPools with page and maxRows, and finds many numbers in one call', async () => {
    const { client } = testClient(sim);
    const many = Array.from({ length: 25 }, (_, i) => ({ dnis: `1212555${String(2000 + i)}`, reservedAccountId: '99990001' }));
    await client.createDnisPool(many);
    const page1 = await client.searchPools({ accountIds: ['99990001'] }, { page: 1, maxRows: 10 });
    expect(page1.records).toHaveLength(10);
    expect(page1.total).toBe(28);
    const before = sim.apiCalls('searchPools').length;
    const found = await client.findMany([...many.slice(0, 5).map((m) => m.dnis), '12125559999'], 1000);
    expect([...found.keys()].sort()).toEqual(many.slice(0, 5).map((m) => m.dnis));
    expect(sim.apiCalls('searchPools').length - before).toBe(1);
  });

  it('returns assignments inline in pool search', async () => {
    const { client } = testClient(sim);
    const found = await client.findMany(['12125550100', '12125550102']);
    expect(found.get('12125550100')?.assignedDnis?.gate?.gateId).toBe(4501);
    expect(found.get('12125550102')?.assignedDnis).toBeUndefined();
  });
});

describe('voice assignments', () => {
  it.each([
    ['gate', 4503, 'gate', 'gates'],
    ['visualIvr', 701, 'visualIvr', 'visualIvrs'],
    ['cloudRouteProfile', 801, 'cloudRouteProfile', 'cloudRouteProfiles'],
  ] as const)('assigns to a %s with an array of {dnis, isActive, dnisDescription}', async (type, id, field, segment) => {
    const { client } = testClient(sim);
    const result = await client.assign(type, id, [{ dnis: '+12125550102', isActive: true, dnisDescription: 'Routing' }]);
    expect(result[0]).toMatchObject({ dnis: '12125550102', isActive: true, dnisDescription: 'Routing' });
    expect(result[0]?.[field]).toBeTruthy();
    const call = sim.apiCalls(`assign.${type}`).at(-1);
    expect(call?.path).toBe(`${TN}/assignedDnis/${segment}/${id}`);
    expect(call?.body).toEqual([{ dnis: '12125550102', isActive: true, dnisDescription: 'Routing' }]);
  });

  it('reads and removes an assignment; an unassigned number reads as undefined', async () => {
    const { client } = testClient(sim);
    expect(await client.getAssignment('12125550101')).toMatchObject({ gate: { gateId: 4502, gateName: 'Support - Billing' } });
    expect(await client.removeAssignment('12125550101')).toBe(true);
    expect(await client.getAssignment('12125550101')).toBeUndefined();
  });

  it('answers 409 when the number is assigned elsewhere, or moves it when the tenant is set to move', async () => {
    const { client } = testClient(sim);
    const error = await rejection(client.assignToGate(4503, [{ dnis: '12125550100', isActive: true }]));
    expect(error.status).toBe(409);
    expect(sim.state.assignments.get('12125550100')?.id).toBe(4501);
    sim.setKnobs({ assignConflict: 'move' });
    await client.assignToGate(4503, [{ dnis: '12125550100', isActive: true }]);
    expect(sim.state.assignments.get('12125550100')?.id).toBe(4503);
  });

  it('answers 404 for an unknown destination and 400 for a missing one', async () => {
    const { client } = testClient(sim);
    expect((await rejection(client.assignToGate(9999, [{ dnis: '12125550102', isActive: true }]))).status).toBe(404);
    expect((await rejection(client.assignToGate(0, [{ dnis: '12125550102', isActive: true }]))).status).toBe(400);
  });

  it('answers 403 access.denied.exception with requestUri "<path> - <METHOD>"', async () => {
    const { client } = testClient(sim);
    const error = await rejection(client.assignToGate(4909, [{ dnis: '12125550102', isActive: true }]));
    expect(error).toMatchObject({
      status: 403,
      errorCode: 'access.denied.exception',
      generalMessage: 'You do not have permission to access this resource',
      requestUri: `${TN}/assignedDnis/gates/4909 - PUT`,
      retryable: false,
      attempts: 1,
    });
  });

  it('refuses a product the principal may not use', async () => {
    const { client } = testClient(sim, {
      tokenProvider: { getAuthHeader: async () => ({ name: 'x-auth-token', value: 'limited-api-token' }), invalidate: () => undefined },
    });
    expect((await rejection(client.assignToCloudRouteProfile(801, [{ dnis: '12125550102', isActive: true }]))).status).toBe(403);
  });
});

describe('tracking numbers', () => {
  it('creates, lists, reads, updates numbers and groups under the account path', async () => {
    const { client } = testClient(sim);
    await client.createDnisPool([{ dnis: '12125550190', reservedAccountId: '99990002' }]);
    const created = await client.createTracNumber('99990002', 901, {
      description: 'Billboard A',
      assignedDnis: { dnis: '+12125550190', isActive: true, dnisDescription: 'Billboard A' },
    });
    expect(created).toMatchObject({ description: 'Billboard A', assignedDnis: { dnis: '12125550190', tracNumber: { tracGroupId: 901 } } });
    expect(sim.apiCalls('createTracNumber').at(-1)?.path).toBe('/voice/api/v1/admin/accounts/99990002/tracGroups/901/tracNumbers');

    const groups = await client.listTracGroupsWithChildren('99990002');
    expect(groups.map((g) => g.tracGroupId)).toEqual([901, 902]);
    expect(groups[0]?.tracNumbers?.[0]?.tracId).toBe(created.tracId);
    expect((await client.listTracNumbers('99990002', 901)).map((t) => t.tracId)).toEqual([created.tracId]);
    expect(await client.getTracGroup('99990002', 902)).toMatchObject({ groupName: 'Radio ads' });
    expect(await client.updateTracGroup('99990002', 902, { groupName: 'Radio + podcast' })).toMatchObject({ groupName: 'Radio + podcast' });

    const updated = await client.updateTracNumber('99990002', 901, created.tracId as number, { description: 'Billboard B' });
    expect(updated.description).toBe('Billboard B');
    expect((await client.getAssignment('12125550190'))?.tracNumber?.tracId).toBe(created.tracId);
  });

  it('answers 403 for an account the principal may not see', async () => {
    const { client } = testClient(sim);
    expect((await rejection(client.listTracGroupsWithChildren('99990009'))).status).toBe(403);
  });
});

describe('failures and retries', () => {
  it('retries 5xx with full-jitter exponential backoff and then succeeds', async () => {
    sim.setKnobs({ faults: { errorRate: 1 } });
    const { client, calls, sleeps } = testClient(sim, {
      onCall: () => {
        if (sim.apiCalls().length >= 3) sim.setKnobs({ faults: { errorRate: 0 } });
      },
    });
    const result = await client.searchDnis({ searchText: '12125550100' });
    expect(result.records).toHaveLength(1);
    expect(calls.map((c) => c.outcome)).toEqual([expect.any(Number), expect.any(Number), expect.any(Number), 200]);
    expect(calls.slice(0, 3).every((c) => c.outcome === 500 || c.outcome === 503)).toBe(true);
    // random() = 0.5: half of 250, 500, 1000 ms.
    expect(sleeps).toEqual([125, 250, 500]);
  });

  it('gives up after maxAttempts and reports the attempts', async () => {
    sim.setKnobs({ faults: { errorRate: 1 } });
    const { client, sleeps } = testClient(sim, { retry: { maxAttempts: 3 } });
    const error = await rejection(client.searchDnis({}));
    expect(error.retryable).toBe(true);
    expect(error.attempts).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect(sim.apiCalls('searchDnis')).toHaveLength(3);
  });

  it('honours Retry-After on 429', async () => {
    sim.setKnobs({ faults: { forced429: 2 } });
    const { client, calls, sleeps } = testClient(sim);
    await client.searchDnis({});
    expect(calls.map((c) => c.outcome)).toEqual([429, 429, 200]);
    // Retry-After: 1 floors the jitter (0.5 × 2000 and 0.5 × 4000).
    expect(sleeps).toEqual([1000, 2000]);
  });

  it('backs off on 429 without Retry-After from the rate-limit base', async () => {
    sim.setKnobs({ faults: { forced429: 2 }, rateLimit: { retryAfter: false } });
    const { client, sleeps } = testClient(sim, { retry: { rateLimitBaseDelayMs: 1_000 } });
    await client.searchDnis({});
    expect(sleeps).toEqual([500, 1000]);
  });

  it('does not wait for a Retry-After longer than it allows', async () => {
    sim.setKnobs({ faults: { forced429: 1 } });
    const { client, sleeps } = testClient(sim, { retry: { maxRetryAfterMs: 500 } });
    const error = await rejection(client.searchDnis({}));
    expect(error.status).toBe(429);
    expect(error.retryable).toBe(true);
    expect(sleeps).toEqual([]);
  });

  it('never retries 400, 403, 404 or 409', async () => {
    const { client, calls } = testClient(sim);
    await rejection(client.getDnisPool('12125550199'));
    await rejection(client.assignToGate(4909, [{ dnis: '12125550102', isActive: true }]));
    await rejection(client.createDnisPool([{ dnis: '12125550100', reservedAccountId: '99990001' }]));
    await rejection(client.createDnisPool([{ dnis: '1', reservedAccountId: '99990001' }]));
    expect(calls.map((c) => c.outcome)).toEqual([404, 403, 409, 400]);
  });

  it('times out a hung request and retries it', async () => {
    sim.setKnobs({ faults: { timeoutRate: 1, hangMs: 5_000 } });
    const { client, calls } = testClient(sim, {
      timeoutMs: 150,
      onCall: () => sim.setKnobs({ faults: { timeoutRate: 0 } }),
    });
    const result = await client.searchDnis({ searchText: '12125550100' });
    expect(result.records).toHaveLength(1);
    expect(calls.map((c) => c.outcome)).toEqual(['timeout', 200]);
  });

  it('reports a timeout as a typed, retryable error after the last attempt', async () => {
    sim.setKnobs({ faults: { timeoutRate: 1, hangMs: 5_000 } });
    const { client } = testClient(sim, { timeoutMs: 100, retry: { maxAttempts: 2 } });
    const error = await rejection(client.searchDnis({}));
    expect(error).toMatchObject({ kind: 'timeout', retryable: true, attempts: 2 });
  });

  it('retries a connection reset', async () => {
    sim.setKnobs({ faults: { resetRate: 1 } });
    const { client, calls } = testClient(sim, { onCall: () => sim.setKnobs({ faults: { resetRate: 0 } }) });
    await client.searchDnis({});
    expect(calls.map((c) => c.outcome)).toEqual(['connection', 200]);
  });

  it('re-reads the token once on "Jwt is expired" and retries the call once', async () => {
    const tokens = ['expired-token', 'fresh-token'];
    let invalidations = 0;
    // Two real sessions: the first expires before it is used.
    const first = sim.auth['issue']('demo-admin', 60_000, false) as { accessToken: string };
    const second = sim.auth['issue']('demo-admin', 60_000, false) as { accessToken: string };
    tokens[0] = first.accessToken;
    tokens[1] = second.accessToken;
    sim.auth.sessions.get(first.accessToken)!.expiresAt = 0;
    let current = 0;
    const { client, calls } = testClient(sim, {
      tokenProvider: {
        getAuthHeader: async () => ({ name: 'authorization', value: `Bearer ${tokens[current]}` }),
        invalidate: () => {
          invalidations += 1;
          current = 1;
        },
      },
    });
    await client.searchDnis({});
    expect(invalidations).toBe(1);
    expect(calls.map((c) => c.outcome)).toEqual([401, 200]);
  });

  it('surfaces a second expired-token answer instead of looping', async () => {
    const session = sim.auth['issue']('demo-admin', 60_000, false) as { accessToken: string };
    sim.auth.sessions.get(session.accessToken)!.expiresAt = 0;
    let invalidations = 0;
    const { client } = testClient(sim, {
      tokenProvider: {
        getAuthHeader: async () => ({ name: 'authorization', value: `Bearer ${session.accessToken}` }),
        invalidate: () => void (invalidations += 1),
      },
    });
    const error = await rejection(client.searchDnis({}));
    expect(error.status).toBe(401);
    expect(error.isExpiredToken).toBe(true);
    expect(invalidations).toBe(1);
  });

  it('keeps tokens out of error messages', async () => {
    const { client } = testClient(sim, {
      tokenProvider: { getAuthHeader: async () => ({ name: 'x-auth-token', value: 'secret-value-xyz' }), invalidate: () => undefined },
    });
    const error = await rejection(client.searchDnis({}));
    expect(error.status).toBe(401);
    expect(JSON.stringify({ message: error.message, summary: error.summary })).not.toContain('secret-value-xyz');
  });
});
