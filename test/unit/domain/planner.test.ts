import { describe, expect, it } from 'vitest';
import type { DesiredRow } from '../../../shared/domain/desiredRow';
import { type CurrentState, planRow } from '../../../shared/domain/planner';

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
