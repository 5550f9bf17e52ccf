import type { Target } from '../../domain/desiredRow';
import type { Action, CurrentAssignment, RowPlan } from '../../domain/planner';
import type { StateSnapshot } from '../../domain/stateFingerprint';
import { type RingCxError, isRingCxError } from '../../ringcx/errors';
import type { DnisPool, DnisPoolInput } from '../../ringcx/schemas';
import type { ItemResult } from './applyArray';
import type { InvocationDeadline } from './budget';
import type { SyncOptions, SyncRequest, SyncResult } from './contract';

/**
 * One row's work in one round of the engine: its plan, what happened so far, and why it stopped.
 * Every step of the engine reads and marks these; nothing here calls RingCX.
 */

export type Stop = 'failed' | 'retry' | 'replan' | 'deferred' | 'stale';

export interface Work {
  request: SyncRequest;
  plan: RowPlan;
  record: DnisPool | undefined;
  before: CurrentAssignment | null;
  /** The state this round's read saw. */
  state: StateSnapshot;
  /** Set when an action of this row failed, was not started, or must be re-planned; later actions are skipped. */
  stopped?: Stop;
  error?: RingCxError;
  /** This invocation removed the number's assignment and has not yet given it the new one. */
  mustFinish?: boolean;
  /** Why the row was deferred or found stale. */
  reason?: string;
  /** Whether a re-plan is owed to a lost answer (true) or to someone else's change (409). */
  lostAnswer?: boolean;
  /** What already happened to this row, in words, for a failure that follows a success. */
  done: string[];
  unroutedMs?: number;
}

export function targetAfter(w: Work): Target | null {
  if (w.request.mode === 'plan') return w.before?.target ?? null;
  for (const action of w.plan.actions) {
    if (action.kind === 'assign' || action.kind === 'reassign' || action.kind === 'updateAssignment') return action.target;
    if (action.kind === 'unassign') return null;
  }
  return w.before?.target ?? null;
}

export function failure(error: unknown, done: string[]): SyncResult {
  if (!isRingCxError(error)) throw error;
  if (error.retryable) return { status: 'retry', reason: error.summary };
  const prefix = done.length ? `${done.join('; ')} done, then ` : '';
  return { status: 'done', outcome: 'failed', detail: `${prefix}${error.summary}`, before: null, after: null };
}

export function actionsOf<K extends Action['kind']>(w: Work, kind: K): Extract<Action, { kind: K }>[] {
  return w.plan.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
}

/**
 * A 409 on a write whose row may re-plan means someone changed the number since the read; an
 * ambiguous failure means the change may stand without an answer. Both earn a fresh read, never
 * a blind repeat. Other transient failures wait for redelivery; the rest are final.
 */
export function stop(w: Work, error: RingCxError, conflictMeansReplan: boolean) {
  w.error = error;
  if (conflictMeansReplan && error.status === 409) {
    w.stopped = 'replan';
  } else if (error.ambiguous) {
    w.stopped = 'replan';
    w.lostAnswer = true;
  } else {
    w.stopped = error.retryable ? 'retry' : 'failed';
  }
}

export function settle(w: Work, result: ItemResult, onSuccess: string | undefined, conflictMeansReplan: boolean, deadline: InvocationDeadline | undefined) {
  if (result.ok) {
    if (onSuccess) w.done.push(onSuccess);
  } else if ('deferred' in result) {
    defer(w, deadline, 1, 'the next array call');
  } else {
    stop(w, result.error, conflictMeansReplan);
  }
}

export function defer(w: Work, deadline: InvocationDeadline | undefined, calls: number, what: string, unroutes = false) {
  w.stopped = 'deferred';
  w.reason = deadline?.explain(calls, what, unroutes) ?? 'deadline';
}

export const alive = (w: Work) => w.stopped === undefined;

export type AssignmentAction = Extract<Action, { kind: 'assign' | 'reassign' | 'updateAssignment' }>;

export function assignmentAction(w: Work): AssignmentAction | undefined {
  return w.plan.actions.find((a): a is AssignmentAction => a.kind === 'assign' || a.kind === 'reassign' || a.kind === 'updateAssignment');
}

/** Only called for rows grouped by their assignment action, so the action exists. */
export function itemOf(w: Work) {
  return (assignmentAction(w) as AssignmentAction).item;
}

/**
 * Numbers this call removed from their old target (or may have: the removal's answer was lost)
 * whose new assignment is still owed: since when, and the move itself, so the assignment can be
 * sent even when no fresh read can be had.
 */
export type UnroutedSince = Map<string, OwedMove>;

export interface OwedMove {
  since: number;
  move: Extract<Action, { kind: 'reassign' }>;
  /** RingCX answered the removal: the number is known to be unrouted by this call, not just maybe. */
  removed: boolean;
}

export const clockOf = (options: SyncOptions) => options.now ?? (() => performance.now());

export function describe(from: CurrentAssignment): string {
  return `${from.target.type}:${from.target.id}`;
}

export function recordFields(record: DnisPool | undefined): Partial<DnisPoolInput> {
  if (!record) return {};
  const fields: Partial<DnisPoolInput> = {};
  if (record.reservedAccountId) fields.reservedAccountId = record.reservedAccountId;
  if (record.dnisDescription != null) fields.dnisDescription = record.dnisDescription;
  if (record.dnisCategory != null) fields.dnisCategory = record.dnisCategory;
  if (record.notes != null) fields.notes = record.notes;
  if (record.active != null) fields.active = record.active;
  return fields;
}

export function poolInput(w: Work, fields: Partial<DnisPoolInput>): DnisPoolInput {
  return { ...fields, dnis: w.request.row.dnis, dnisE164: w.request.row.e164 };
}
