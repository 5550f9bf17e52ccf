import { z } from 'zod';
import { DesiredRowSchema, OUTCOMES } from './desiredRow';
import { type CurrentState, planRow, type RowPlan } from './planner';
import { describeStateChange, fingerprintOf, snapshotOf, type StateSnapshot } from './stateFingerprint';

/**
 * A saved plan: what a `plan/` run decided for every row, and the RingCX state each decision was
 * made against. Applying it executes exactly those decisions, and only where the state is still the
 * one the reviewer saw.
 */
export const SnapshotSchema = z.object({
  inPool: z.boolean(),
  accountId: z.string().nullable(),
  description: z.string().nullable(),
  category: z.string().nullable(),
  notes: z.string().nullable(),
  active: z.boolean().nullable(),
  target: z.string().nullable(),
  tracId: z.number().nullable(),
  assignmentActive: z.boolean().nullable(),
  assignmentDescription: z.string().nullable(),
}) satisfies z.ZodType<StateSnapshot>;

export const PlannedRowSchema = z.object({
  line: z.number().int().positive(),
  row: DesiredRowSchema,
  outcome: z.enum(OUTCOMES),
  /** The planner's actions in words, as the reviewer read them. */
  detail: z.string(),
  /** The planner's actions, compared with a fresh plan at apply time. */
  actions: z.array(z.record(z.string(), z.unknown())),
  state: SnapshotSchema,
  fingerprint: z.string().regex(/^[0-9a-f]{32}$/),
  /** The input row's cells, so an apply's failed.csv gives them back as they were. */
  raw: z.array(z.string()).optional(),
});
export type PlannedRow = z.infer<typeof PlannedRowSchema>;

export const PLAN_ID = /^plan-[0-9a-z]{6,40}$/;

export const SavedPlanSchema = z.object({
  v: z.literal(1),
  planId: z.string().regex(PLAN_ID),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  source: z.object({ bucket: z.string(), key: z.string(), versionId: z.string().nullable(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
  /** The plan run's job, whose report the reviewer read. */
  jobId: z.string(),
  /** The input file's header, for the apply's failed.csv. */
  header: z.array(z.string()).optional(),
  rows: z.array(PlannedRowSchema),
});
export type SavedPlan = z.infer<typeof SavedPlanSchema>;

/** `approved/<planId>.json`: the act that starts an apply, kept for the audit trail. */
export const ApprovalSchema = z.object({
  planId: z.string().regex(PLAN_ID),
  approvedBy: z.string().trim().min(1).max(200),
  reason: z.string().trim().min(1).max(1000),
});
export type Approval = z.infer<typeof ApprovalSchema>;

/** Outcomes that change nothing: such rows are never touched by an apply. */
export const NOTHING_TO_DO: ReadonlySet<string> = new Set(['unchanged', 'conflict', 'skipped', 'rejected', 'failed']);

export function plannedRow(line: number, row: PlannedRow['row'], current: CurrentState, plan: RowPlan): PlannedRow {
  const state = snapshotOf(current);
  return {
    line,
    row,
    outcome: plan.outcome,
    detail: plan.detail,
    actions: plan.actions as unknown as PlannedRow['actions'],
    state,
    fingerprint: fingerprintOf(state),
  };
}

export type PlannedRowCheck =
  | { status: 'apply'; plan: RowPlan }
  | { status: 'untouched'; outcome: PlannedRow['outcome']; detail: string }
  | { status: 'stale'; detail: string };

/**
 * Decides, against the state read now, whether a planned row may be applied. Equal fingerprints
 * mean the planner sees what it saw at plan time; the fresh plan must then be the planned one, or
 * the code that plans has changed since and the row is refused rather than guessed at.
 */
export function checkPlannedRow(planned: PlannedRow, current: CurrentState): PlannedRowCheck {
  if (NOTHING_TO_DO.has(planned.outcome)) {
    return { status: 'untouched', outcome: planned.outcome, detail: `planned as ${planned.outcome}; left as it is` };
  }
  const now = snapshotOf(current);
  if (fingerprintOf(now) !== planned.fingerprint) {
    return { status: 'stale', detail: `RingCX changed since the plan: ${describeStateChange(planned.state, now) || 'state differs'}` };
  }
  const plan = planRow(planned.row, current);
  if (JSON.stringify(plan.actions) !== JSON.stringify(planned.actions)) {
    return { status: 'stale', detail: 'the plan no longer matches what this version would do; plan again' };
  }
  return { status: 'apply', plan };
}

export function planExpired(plan: Pick<SavedPlan, 'expiresAt'>, now: Date): boolean {
  return now.getTime() >= Date.parse(plan.expiresAt);
}
