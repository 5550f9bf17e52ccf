import { describe, expect, it } from 'vitest';
import type { RowMessage } from '../../../shared/contracts';
import type { RowDelivery } from '../../../shared/worker/rowMessage';
import { attributeCalls, isAuditedPlannedChange, lastAttemptOf, outcomeWriteFor, settleRow } from '../../../shared/worker/rowOutcome';
import type { SyncResult } from '../../../shared/worker/sync/contract';

const message = (overrides: Partial<RowMessage> = {}): RowMessage => ({
  v: 1,
  kind: 'row',
  jobId: 'job-1',
  line: 7,
  mode: 'apply',
  row: { dnis: '12125550107', e164: '+12125550107', accountId: '1', category: 'VOICE', active: true, target: { type: 'gate', id: 42 }, assignmentActive: true, onConflict: 'fail', action: 'upsert' },
  raw: ['12125550107', 'queue', '42'],
  ...overrides,
});
const delivery = (receiveCount: number, overrides: Partial<RowMessage> = {}): RowDelivery => ({ record: { messageId: 'm-1', body: '', receiveCount }, message: message(overrides) });
const limits = { maxReceiveCount: 3, maxDeferrals: 2 };
const done = (outcome: Extract<SyncResult, { status: 'done' }>['outcome'], extra: Partial<Extract<SyncResult, { status: 'done' }>> = {}): SyncResult => ({
  status: 'done',
  outcome,
  detail: `${outcome} detail`,
  before: null,
  after: null,
  ...extra,
});

describe('outcomeWriteFor', () => {
  it('remembers the desired state of a successful apply for the ledger', () => {
    expect(outcomeWriteFor(message(), done('assigned'), 1)).toEqual({
      line: 7,
      dnis: '12125550107',
      outcome: 'assigned',
      detail: 'assigned detail',
      target: 'queue:42',
      raw: ['12125550107', 'queue', '42'],
      ledger: { row: message().row, target: { type: 'gate', id: 42 }, targetDeclared: true },
    });
  });

  it('declares "should be unassigned" for an unassign row, and nothing routed for a row without a target', () => {
    const unassign = outcomeWriteFor(message({ row: { ...message().row, action: 'unassign' } }), done('unassigned'), 1);
    expect(unassign.ledger).toMatchObject({ target: null, targetDeclared: true });
    const poolOnly = outcomeWriteFor(message({ row: { ...message().row, target: null } }), done('updated'), 1);
    expect(poolOnly.ledger).toMatchObject({ target: null, targetDeclared: false });
  });

  it('keeps no ledger entry for a plan-mode row or a row that changed nothing it was asked to', () => {
    expect(outcomeWriteFor(message({ mode: 'plan' }), done('assigned'), 1).ledger).toBeUndefined();
    expect(outcomeWriteFor(message(), done('conflict'), 1).ledger).toBeUndefined();
  });

  it('records a row still failing on its last delivery as a gave-up failure, with the attempts and the reason', () => {
    expect(outcomeWriteFor(message(), { status: 'retry', reason: 'RingCX 503' }, 3)).toEqual({
      line: 7,
      dnis: '12125550107',
      outcome: 'failed',
      detail: 'gave up after 3 attempts: RingCX 503',
      target: 'queue:42',
      raw: ['12125550107', 'queue', '42'],
      gaveUp: true,
    });
  });

  it('saves a plan-mode row with the state it was planned against and that state\'s fingerprint', () => {
    const write = outcomeWriteFor(message({ mode: 'plan' }), done('assigned', { planned: { actions: [], state: { dnis: '12125550107', pool: null, assignment: null } as never } }), 1);
    expect(write.planned?.row).toEqual(message().row);
    expect(write.planned?.fingerprint).toMatch(/^[0-9a-f]{16,}$/);
  });
});

describe('settleRow', () => {
  it('hands a row not started in time on while it has deferrals left', () => {
    const deferred: SyncResult = { status: 'retry', reason: 'deadline', deferred: true };
    expect(settleRow(delivery(1, { deferrals: 1 }), deferred, limits, false)).toEqual({ kind: 'hand-on', reason: 'deadline' });
  });

  it('sends a row deferred too often down the ordinary retry path, naming how often it was not started', () => {
    const deferred: SyncResult = { status: 'retry', reason: 'deadline', deferred: true };
    expect(settleRow(delivery(1, { deferrals: 2 }), deferred, limits, false)).toEqual({ kind: 'retry', reason: 'deadline (not started in 3 invocations)' });
    const last = settleRow(delivery(3, { deferrals: 2 }), deferred, limits, false);
    expect(last).toMatchObject({ kind: 'record', verdict: { status: 'retry' }, write: { outcome: 'failed', gaveUp: true, detail: 'gave up after 3 attempts: deadline (not started in 3 invocations)' } });
  });

  it('leaves a failing row for redelivery until its last delivery, then records it and still lets it reach the DLQ', () => {
    const retry: SyncResult = { status: 'retry', reason: 'RingCX 503' };
    expect(settleRow(delivery(2), retry, limits, false)).toEqual({ kind: 'retry', reason: 'RingCX 503' });
    expect(settleRow(delivery(3), retry, limits, false)).toMatchObject({ kind: 'record', verdict: { status: 'retry', reason: 'RingCX 503' }, write: { gaveUp: true } });
  });

  it('records a final outcome as done, marking a redrive of a gave-up row and a declaration that applied nothing', () => {
    const redrive = settleRow(delivery(1), done('conflict'), limits, true);
    expect(redrive).toMatchObject({ kind: 'record', verdict: { status: 'done' }, write: { outcome: 'conflict', replacesGaveUp: true, declares: true } });
    const applied = settleRow(delivery(1), done('assigned'), limits, false);
    expect(applied.kind === 'record' && applied.write).not.toHaveProperty('declares');
    expect(applied.kind === 'record' && applied.write).not.toHaveProperty('replacesGaveUp');
    const planned = settleRow(delivery(1, { mode: 'plan' }), done('assigned'), limits, false);
    expect(planned.kind === 'record' && planned.write).not.toHaveProperty('declares');
  });
});

describe('attributeCalls', () => {
  it('shares the calls by rows, the last job taking what rounding left so the parts add up', () => {
    const calls = attributeCalls(10, [['a', 1], ['b', 1], ['c', 1]]);
    expect([...calls]).toEqual([['a', 3], ['b', 3], ['c', 4]]);
    expect([...attributeCalls(7, [['a', 6], ['b', 1]])]).toEqual([['a', 6], ['b', 1]]);
  });

  it('gives a single job every call, and handles a batch without rows', () => {
    expect([...attributeCalls(5, [['a', 2]])]).toEqual([['a', 5]]);
    expect([...attributeCalls(0, [])]).toEqual([]);
  });
});

describe('isAuditedPlannedChange', () => {
  const planned = { planId: 'p-1', state: {}, fingerprint: 'f', actions: [], approvedBy: 'ops', reason: 'move' } as unknown as RowMessage['planned'];
  const write = (outcome: string) => ({ ...outcomeWriteFor(message(), done('assigned'), 1), outcome }) as never;

  it('audits a planned row that wrote to RingCX, and nothing else', () => {
    expect(isAuditedPlannedChange(message({ planned }), write('reassigned'), done('reassigned'))).toBe(true);
    expect(isAuditedPlannedChange(message({ planned }), write('unchanged'), done('unchanged'))).toBe(false);
    expect(isAuditedPlannedChange(message(), write('reassigned'), done('reassigned'))).toBe(false);
    expect(isAuditedPlannedChange(message({ planned }), write('failed'), { status: 'retry', reason: 'x' })).toBe(false);
  });
});

describe('lastAttemptOf', () => {
  it('keeps what the sweeper needs to settle the row without its message', () => {
    expect(lastAttemptOf(delivery(3), 1234)).toEqual({ line: 7, dnis: '12125550107', target: 'queue:42', raw: ['12125550107', 'queue', '42'], receives: 3, startedAt: 1234 });
  });
});
