import { describe, expect, it } from 'vitest';
import type { DesiredRow } from '../../../shared/domain/desiredRow';
import { checkExpectation, type CurrentState, intentOf, planRow, reconcileWithIntent } from '../../../shared/domain/planner';

const row = (overrides: Partial<DesiredRow> = {}): DesiredRow => ({
  dnis: '12125550100',
  e164: '+12125550100',
  accountId: '99990001',
  category: 'VOICE',
  active: true,
  target: { type: 'gate', id: 4501 },
  assignmentActive: true,
  onConflict: 'fail',
  action: 'upsert',
  ...overrides,
});

const pool = (overrides: Partial<NonNullable<CurrentState['pool']>> = {}): NonNullable<CurrentState['pool']> => ({
  accountId: '99990001',
  description: 'Main',
  category: 'VOICE',
  notes: undefined,
  active: true,
  ...overrides,
});

const at = (type: 'gate' | 'visualIvr' | 'trackingGroup', id: number, extra = {}) => ({
  target: { type, id },
  targetName: 'Somewhere',
  isActive: true,
  description: 'Main',
  ...extra,
});

describe('planRow', () => {
  it('creates a missing number and assigns it', () => {
    const plan = planRow(row({ description: 'Main' }), { pool: undefined, assignment: null });
    expect(plan.outcome).toBe('created');
    expect(plan.actions.map((a) => a.kind)).toEqual(['createPool', 'assign']);
    expect(plan.actions[0]).toMatchObject({ fields: { reservedAccountId: '99990001', dnisDescription: 'Main', dnisCategory: 'VOICE', active: true } });
  });

  it('creates an inventory-only number without assigning it', () => {
    const plan = planRow(row({ target: null }), { pool: undefined, assignment: null });
    expect(plan.actions.map((a) => a.kind)).toEqual(['createPool']);
  });

  it('changes nothing when RingCX already matches', () => {
    const plan = planRow(row({ description: 'Main' }), { pool: pool(), assignment: at('gate', 4501) });
    expect(plan).toMatchObject({ outcome: 'unchanged', actions: [] });
  });

  it('sends only the fields that differ', () => {
    const plan = planRow(row({ description: 'New', notes: 'n' }), { pool: pool(), assignment: at('gate', 4501) });
    expect(plan.outcome).toBe('updated');
    expect(plan.actions).toEqual([{ kind: 'updatePool', fields: { dnisDescription: 'New', notes: 'n' } }]);
  });

  it('treats an empty optional cell as "leave it", not "clear it"', () => {
    const plan = planRow(row({ description: undefined, notes: undefined }), { pool: pool({ notes: 'keep' }), assignment: at('gate', 4501) });
    expect(plan.outcome).toBe('unchanged');
  });

  it('never moves a number assigned elsewhere by default: conflict, and no action at all', () => {
    const plan = planRow(row({ description: 'Changed too' }), { pool: pool(), assignment: at('gate', 4502) });
    expect(plan.outcome).toBe('conflict');
    expect(plan.actions).toEqual([]);
    expect(plan.detail).toMatch(/assigned to queue:4502 \(Somewhere\); the file asks for queue:4501/);
  });

  it('leaves it alone with on_conflict=skip', () => {
    expect(planRow(row({ onConflict: 'skip' }), { pool: pool(), assignment: at('visualIvr', 701) })).toMatchObject({ outcome: 'skipped', actions: [] });
  });

  it('moves it only with on_conflict=reassign, naming where from', () => {
    const plan = planRow(row({ onConflict: 'reassign' }), { pool: pool(), assignment: at('gate', 4502) });
    expect(plan.outcome).toBe('reassigned');
    expect(plan.actions).toMatchObject([{ kind: 'reassign', from: { target: { type: 'gate', id: 4502 } }, target: { type: 'gate', id: 4501 } }]);
  });

  it('treats an account change of an assigned number as a move that needs on_conflict=reassign', () => {
    const current = { pool: pool({ accountId: '99990002' }), assignment: at('gate', 4501) };
    expect(planRow(row(), current).outcome).toBe('conflict');
    expect(planRow(row({ onConflict: 'reassign' }), current).actions).toEqual([{ kind: 'updatePool', fields: { reservedAccountId: '99990001' } }]);
  });

  it('assigns an unassigned number and updates an assignment whose activity differs', () => {
    expect(planRow(row(), { pool: pool(), assignment: null }).outcome).toBe('assigned');
    const plan = planRow(row({ assignmentActive: false }), { pool: pool(), assignment: at('gate', 4501) });
    expect(plan.outcome).toBe('updated');
    expect(plan.actions).toMatchObject([{ kind: 'updateAssignment', item: { isActive: false } }]);
  });

  it('leaves routing alone for an inventory-only row of an assigned number', () => {
    expect(planRow(row({ target: null }), { pool: pool(), assignment: at('gate', 4502) }).outcome).toBe('unchanged');
  });

  it('keeps the tracking number id when updating a tracking assignment', () => {
    const plan = planRow(row({ target: { type: 'trackingGroup', id: 901 }, assignmentDescription: 'New ad' }), {
      pool: pool(),
      assignment: at('trackingGroup', 901, { tracId: 10001 }),
    });
    expect(plan.actions).toMatchObject([{ kind: 'updateAssignment', tracId: 10001, item: { dnisDescription: 'New ad' } }]);
  });

  describe('unassign', () => {
    it('removes an assignment that matches the row target', () => {
      const plan = planRow(row({ action: 'unassign' }), { pool: pool(), assignment: at('gate', 4501) });
      expect(plan).toMatchObject({ outcome: 'unassigned', actions: [{ kind: 'unassign' }] });
    });
    it('refuses when the number routes somewhere other than the row says', () => {
      const plan = planRow(row({ action: 'unassign' }), { pool: pool(), assignment: at('gate', 4502) });
      expect(plan).toMatchObject({ outcome: 'conflict', actions: [] });
    });
    it('removes any assignment when the row names no target', () => {
      expect(planRow(row({ action: 'unassign', target: null }), { pool: pool(), assignment: at('visualIvr', 702) }).outcome).toBe('unassigned');
    });
    it('is a no-op for an unassigned or unknown number', () => {
      expect(planRow(row({ action: 'unassign' }), { pool: pool(), assignment: null }).outcome).toBe('unchanged');
      expect(planRow(row({ action: 'unassign' }), { pool: undefined, assignment: null }).outcome).toBe('unchanged');
    });
  });
});

describe('preconditions and intents', () => {
  const q = (id: number) => ({ type: 'gate' as const, id });
  const move = { action: 'reassign' as const, from: q(4501), to: q(4503), detail: 'move from queue:4501 to queue:4503' };

  it('an expectation holds on the expected routing only', () => {
    expect(checkExpectation(q(4501), q(4501))).toEqual({ ok: true });
    expect(checkExpectation(null, null)).toEqual({ ok: true });
    expect(checkExpectation(q(4501), q(4502))).toEqual({ ok: false, detail: 'stale: expected queue:4501, found queue:4502' });
    expect(checkExpectation(q(4501), null)).toEqual({ ok: false, detail: 'stale: expected queue:4501, found unassigned' });
    expect(checkExpectation(null, q(4502))).toEqual({ ok: false, detail: 'stale: expected unassigned, found queue:4502' });
  });

  it("an expectation holds between the two halves of this request's own move, and after it", () => {
    expect(checkExpectation(q(4501), null, move)).toEqual({ ok: true });
    expect(checkExpectation(q(4501), q(4503), move)).toEqual({ ok: true });
    // Someone else's change is still stale, intent or not.
    expect(checkExpectation(q(4501), q(4502), move).ok).toBe(false);
  });

  it('records what a plan sets out to do', () => {
    const plan = planRow(row({ target: q(4503), onConflict: 'reassign' }), { pool: pool(), assignment: at('gate', 4501) });
    expect(intentOf(plan, at('gate', 4501))).toMatchObject({ action: 'reassign', from: q(4501), to: q(4503) });
    expect(intentOf(planRow(row(), { pool: pool(), assignment: at('gate', 4501, { description: 'Main' }) }), null)).toBeUndefined();
  });

  it("credits a change found already standing to this row's intent, never as unchanged", () => {
    const unchanged = planRow(row(), { pool: pool(), assignment: at('gate', 4501, { description: 'Main' }) });
    expect(unchanged.outcome).toBe('unchanged');
    expect(reconcileWithIntent(unchanged, undefined)).toEqual({ outcome: 'unchanged', detail: unchanged.detail });
    const created = { action: 'create' as const, from: null, to: q(4501), detail: 'create pool record; assign to queue:4501' };
    expect(reconcileWithIntent(unchanged, created)).toEqual({ outcome: 'created', detail: 'create pool record; assign to queue:4501 (confirmed by re-reading)', before: null });
    const assignOnly = planRow(row(), { pool: pool(), assignment: null });
    expect(reconcileWithIntent(assignOnly, created).outcome).toBe('created');
    const halfMove = planRow(row({ target: q(4503), onConflict: 'reassign' }), { pool: pool(), assignment: null });
    expect(halfMove.outcome).toBe('assigned');
    expect(reconcileWithIntent(halfMove, move)).toMatchObject({ outcome: 'reassigned', before: { target: q(4501) } });
    // A plan that still has the whole move to do is reported by itself.
    const whole = planRow(row({ target: q(4503), onConflict: 'reassign' }), { pool: pool(), assignment: at('gate', 4501) });
    expect(reconcileWithIntent(whole, move).outcome).toBe('reassigned');
  });
});
