import { describe, expect, it } from 'vitest';
import type { DesiredRow } from '../../../shared/domain/desiredRow';
import { type CurrentState, planRow } from '../../../shared/domain/planner';
import { ApprovalSchema, checkPlannedRow, plannedRow, planExpired, SavedPlanSchema } from '../../../shared/domain/savedPlan';
import { describeStateChange, fingerprintOf, snapshotOf } from '../../../shared/domain/stateFingerprint';

const row = (overrides: Partial<DesiredRow> = {}): DesiredRow => ({
  dnis: '12125550100',
  e164: '+12125550100',
  accountId: '99990001',
  category: 'VOICE',
  active: true,
  target: { type: 'gate', id: 1002 },
  assignmentActive: true,
  onConflict: 'reassign',
  action: 'upsert',
  ...overrides,
});

const onQueue = (id: number, extra: Partial<NonNullable<CurrentState['assignment']>> = {}): CurrentState => ({
  pool: { accountId: '99990001', description: 'Main', category: 'VOICE', notes: undefined, active: true },
  assignment: { target: { type: 'gate', id }, targetName: 'Sales', isActive: true, description: 'Main', ...extra },
});

function planned(desired: DesiredRow, current: CurrentState) {
  return plannedRow(7, desired, current, planRow(desired, current));
}

describe('state fingerprints', () => {
  it('are equal for equal states and differ when anything the planner reads differs', () => {
    expect(fingerprintOf(snapshotOf(onQueue(1001)))).toBe(fingerprintOf(snapshotOf(onQueue(1001))));
    const base = fingerprintOf(snapshotOf(onQueue(1001)));
    expect(fingerprintOf(snapshotOf(onQueue(1002)))).not.toBe(base);
    expect(fingerprintOf(snapshotOf(onQueue(1001, { isActive: false })))).not.toBe(base);
    expect(fingerprintOf(snapshotOf(onQueue(1001, { description: 'Other' })))).not.toBe(base);
    expect(fingerprintOf(snapshotOf({ ...onQueue(1001), assignment: null }))).not.toBe(base);
    expect(fingerprintOf(snapshotOf({ pool: undefined, assignment: null }))).not.toBe(base);
  });

  it('ignore what the planner does not read (the target name shown in the portal)', () => {
    expect(fingerprintOf(snapshotOf(onQueue(1001, { targetName: 'Renamed' })))).toBe(fingerprintOf(snapshotOf(onQueue(1001))));
  });

  it('describe a change in an operator’s words, the routing change first', () => {
    const change = describeStateChange(snapshotOf(onQueue(1001)), snapshotOf(onQueue(1002, { description: 'Other' })));
    expect(change).toBe('assignment queue:1001 → queue:1002, assignment description Main → Other');
    expect(describeStateChange(snapshotOf({ pool: undefined, assignment: null }), snapshotOf(onQueue(1001)))).toBe(
      'the number was added to the pool',
    );
  });
});

describe('checkPlannedRow', () => {
  it('applies the planned move when RingCX is as it was at plan time', () => {
    const plan = planned(row(), onQueue(1001));
    expect(plan.outcome).toBe('reassigned');
    const check = checkPlannedRow(plan, onQueue(1001));
    expect(check.status).toBe('apply');
    if (check.status === 'apply') expect(check.plan.actions.map((a) => a.kind)).toEqual(['reassign']);
  });

  it('refuses a row whose number was moved in between, naming the change', () => {
    const check = checkPlannedRow(planned(row(), onQueue(1001)), onQueue(1003));
    expect(check).toEqual({ status: 'stale', detail: 'RingCX changed since the plan: assignment queue:1001 → queue:1003' });
  });

  it('refuses a row that was planned as new when the number appeared meanwhile', () => {
    const check = checkPlannedRow(planned(row(), { pool: undefined, assignment: null }), onQueue(1001));
    expect(check).toMatchObject({ status: 'stale', detail: 'RingCX changed since the plan: the number was added to the pool' });
  });

  it('leaves rows that changed nothing in the plan untouched, whatever RingCX holds now', () => {
    const conflict = planned(row({ onConflict: 'fail' }), onQueue(1001));
    expect(conflict.outcome).toBe('conflict');
    expect(checkPlannedRow(conflict, onQueue(1003))).toMatchObject({ status: 'untouched', outcome: 'conflict' });
    const same = planned(row({ target: { type: 'gate', id: 1001 }, description: 'Main', assignmentDescription: 'Main' }), onQueue(1001));
    expect(same.outcome).toBe('unchanged');
    expect(checkPlannedRow(same, onQueue(1001))).toMatchObject({ status: 'untouched', outcome: 'unchanged' });
  });

  it('refuses a plan whose recorded actions are not what the planner decides for the same state', () => {
    const plan = { ...planned(row(), onQueue(1001)), actions: [{ kind: 'unassign' }] };
    expect(checkPlannedRow(plan, onQueue(1001))).toMatchObject({ status: 'stale' });
  });

  it('works for unassign rows and tracking groups', () => {
    const tracking: CurrentState = { ...onQueue(1001), assignment: { target: { type: 'trackingGroup', id: 77 }, tracId: 5, isActive: true, description: 'Main' } };
    const unassign = planned(row({ action: 'unassign', target: null }), tracking);
    expect(unassign.outcome).toBe('unassigned');
    expect(checkPlannedRow(unassign, tracking).status).toBe('apply');
    expect(checkPlannedRow(unassign, { ...tracking, assignment: { ...tracking.assignment!, tracId: 6 } }).status).toBe('stale');
  });
});

describe('plan documents', () => {
  const document = {
    v: 1,
    planId: 'plan-0123abcd',
    createdAt: '2026-11-30T08:00:00.000Z',
    expiresAt: '2026-12-01T08:00:00.000Z',
    source: { bucket: 'b', key: 'plan/a.csv', versionId: null, sha256: 'a'.repeat(64) },
    jobId: 'job-1',
    rows: [planned(row(), onQueue(1001))],
  };

  it('round-trip through JSON and expire at their expiry time', () => {
    const parsed = SavedPlanSchema.parse(JSON.parse(JSON.stringify(document)));
    expect(checkPlannedRow(parsed.rows[0]!, onQueue(1001)).status).toBe('apply');
    expect(planExpired(parsed, new Date('2026-12-01T07:59:59Z'))).toBe(false);
    expect(planExpired(parsed, new Date('2026-12-01T08:00:00Z'))).toBe(true);
  });

  it('refuse an approval without who or why, or for a malformed plan id', () => {
    expect(ApprovalSchema.safeParse({ planId: 'plan-0123abcd', approvedBy: 'ops:kim', reason: 'CHG-7' }).success).toBe(true);
    expect(ApprovalSchema.safeParse({ planId: 'plan-0123abcd', approvedBy: ' ', reason: 'CHG-7' }).success).toBe(false);
    expect(ApprovalSchema.safeParse({ planId: '../x', approvedBy: 'ops:kim', reason: 'CHG-7' }).success).toBe(false);
  });
});
