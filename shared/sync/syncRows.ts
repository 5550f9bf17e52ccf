import type { DesiredRow, Mode, Outcome, Target } from '../domain/desiredRow';
import { type Action, type CurrentAssignment, planRow, type RowPlan } from '../domain/planner';
import type { RingCxClient } from '../ringcx/client';
import { isRingCxError, type RingCxError } from '../ringcx/errors';
import type { DnisPool, DnisPoolInput } from '../ringcx/schemas';
import { applyArray } from './applyArray';
import { readCurrentState } from './currentState';

export interface SyncRequest {
  /** Unique per request within the call, e.g. the SQS message id. */
  key: string;
  row: DesiredRow;
  mode: Mode;
}

export type SyncResult =
  | {
      status: 'done';
      outcome: Outcome;
      detail: string;
      /** Where the number routed before, and where it routes now (for audit and events). */
      before: CurrentAssignment | null;
      after: Target | null;
    }
  | { status: 'retry'; reason: string };

export interface SyncOptions {
  maxArray: number;
  maxRows: number;
  reassignMode: 'unassign-first' | 'direct';
}

interface Work {
  request: SyncRequest;
  plan: RowPlan;
  record: DnisPool | undefined;
  before: CurrentAssignment | null;
  /** Set when an action of this row failed or must be re-planned; later actions are skipped. */
  stopped?: 'failed' | 'retry' | 'replan';
  error?: RingCxError;
  /** What already happened to this row, in words, for a failure that follows a success. */
  done: string[];
}

/** Rounds of read → plan → apply; a 409 (someone changed the number meanwhile) earns a fresh read. */
const MAX_ROUNDS = 3;

/**
 * Brings a batch of numbers to their desired state with as few RingCX calls as the API allows:
 * one search for the batch, one array create, one array update, one array assign per target.
 */
export async function syncRows(client: RingCxClient, requests: SyncRequest[], options: SyncOptions): Promise<Map<string, SyncResult>> {
  const results = new Map<string, SyncResult>();
  const byNumber = new Map<string, SyncRequest>();
  for (const request of requests) {
    if (byNumber.has(request.row.dnis)) {
      // Two rows for one number in one batch would race each other; the later waits for redelivery.
      results.set(request.key, { status: 'retry', reason: 'another change to this number is in the same batch' });
    } else {
      byNumber.set(request.row.dnis, request);
    }
  }

  let pending = [...byNumber.values()];
  /** Numbers whose create answered 409: a second miss in search means RingCX hides them from us. */
  const createConflicts = new Set<string>();
  for (let round = 1; round <= MAX_ROUNDS && pending.length > 0; round++) {
    let read;
    try {
      read = await readCurrentState(client, pending.map((r) => r.row.dnis), options.maxRows);
    } catch (error) {
      for (const request of pending) results.set(request.key, failure(error, []));
      return results;
    }
    const work: Work[] = [];
    for (const request of pending) {
      const current = read.state.get(request.row.dnis) ?? { pool: undefined, assignment: null };
      if (!current.pool && createConflicts.has(request.row.dnis)) {
        results.set(request.key, {
          status: 'done',
          outcome: 'failed',
          detail: '409 the number already exists in RingCX but this user cannot see it (it is reserved for an account the credentials may not access)',
          before: null,
          after: null,
        });
        continue;
      }
      work.push({ request, plan: planRow(request.row, current), record: read.records.get(request.row.dnis), before: current.assignment, done: [] });
    }
    const writes = work.filter((w) => w.request.mode === 'apply' && w.plan.actions.length > 0);
    await applyWrites(client, writes, options);

    pending = [];
    for (const w of work) {
      if (w.stopped === 'replan') {
        if (actionsOf(w, 'createPool').length > 0) createConflicts.add(w.request.row.dnis);
        pending.push(w.request);
      } else if (w.stopped) {
        results.set(w.request.key, failure(w.error, w.done));
      } else {
        results.set(w.request.key, {
          status: 'done',
          outcome: w.plan.outcome,
          detail: w.plan.detail,
          before: w.before,
          after: targetAfter(w),
        });
      }
    }
  }
  for (const request of pending) {
    results.set(request.key, {
      status: 'done',
      outcome: 'failed',
      detail: 'the number kept changing in RingCX while it was being applied (409 three times); try again',
      before: null,
      after: null,
    });
  }
  return results;
}

function targetAfter(w: Work): Target | null {
  if (w.request.mode === 'plan') return w.before?.target ?? null;
  for (const action of w.plan.actions) {
    if (action.kind === 'assign' || action.kind === 'reassign' || action.kind === 'updateAssignment') return action.target;
    if (action.kind === 'unassign') return null;
  }
  return w.before?.target ?? null;
}

function failure(error: unknown, done: string[]): SyncResult {
  if (!isRingCxError(error)) throw error;
  if (error.retryable) return { status: 'retry', reason: error.summary };
  const prefix = done.length ? `${done.join('; ')} done, then ` : '';
  return { status: 'done', outcome: 'failed', detail: `${prefix}${error.summary}`, before: null, after: null };
}

function actionsOf<K extends Action['kind']>(w: Work, kind: K): Extract<Action, { kind: K }>[] {
  return w.plan.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
}

function stop(w: Work, error: RingCxError, conflictMeansReplan: boolean) {
  w.error = error;
  w.stopped = conflictMeansReplan && error.status === 409 ? 'replan' : error.retryable ? 'retry' : 'failed';
}

const alive = (w: Work) => w.stopped === undefined;

async function applyWrites(client: RingCxClient, writes: Work[], options: SyncOptions): Promise<void> {
  // 1. New pool records, one atomic array call (split only around bad records).
  const creates = writes.filter((w) => actionsOf(w, 'createPool').length > 0);
  const createResults = await applyArray(creates, options.maxArray, (chunk) =>
    client.createDnisPool(chunk.map((w) => poolInput(w, actionsOf(w, 'createPool')[0]?.fields ?? {}))),
  );
  // A 409 on create means the number appeared since the search (a concurrent or timed-out earlier
  // attempt created it): re-read it and plan against what is there, never create it twice.
  createResults.forEach((result, i) => {
    const w = creates[i] as Work;
    if (result.ok) w.done.push('created');
    else stop(w, result.error, true);
  });

  // 2. Changed pool fields. The whole record is sent: a PUT may replace what it is not given.
  const updates = writes.filter((w) => alive(w) && actionsOf(w, 'updatePool').length > 0);
  const updateResults = await applyArray(updates, options.maxArray, (chunk) =>
    client.updateDnisPool(chunk.map((w) => poolInput(w, { ...recordFields(w.record), ...actionsOf(w, 'updatePool')[0]?.fields }))),
  );
  updateResults.forEach((result, i) => {
    const w = updates[i] as Work;
    if (result.ok) w.done.push('pool record updated');
    else stop(w, result.error, false);
  });

  // 3. Removals: unassign rows, and the first half of a move when RingCX does not move on PUT.
  for (const w of writes.filter(alive)) {
    const unassign = actionsOf(w, 'unassign')[0];
    const reassign = actionsOf(w, 'reassign')[0];
    // Tracking numbers have no move operation, so moves to or from them always remove first.
    const removeFirst =
      options.reassignMode === 'unassign-first' || reassign?.from.target.type === 'trackingGroup' || reassign?.target.type === 'trackingGroup';
    const from = unassign?.from ?? (removeFirst ? reassign?.from : undefined);
    if (!from) continue;
    try {
      await client.removeAssignment(w.request.row.dnis);
      w.done.push(`removed from ${from.target.type}:${from.target.id}`);
    } catch (error) {
      if (!isRingCxError(error)) throw error;
      stop(w, error, false);
    }
  }

  // 4. Assignments, one array call per destination; tracking numbers one call each (no array API).
  const byTarget = new Map<string, { target: Target; rows: Work[] }>();
  for (const w of writes.filter(alive)) {
    const action = assignmentAction(w);
    if (!action) continue;
    const key = `${action.target.type}:${action.target.id}`;
    const group = byTarget.get(key) ?? { target: action.target, rows: [] };
    group.rows.push(w);
    byTarget.set(key, group);
  }
  for (const { target, rows } of byTarget.values()) {
    if (target.type === 'trackingGroup') {
      for (const w of rows) await applyTracking(client, w, target);
      continue;
    }
    const voiceType = target.type;
    const assignResults = await applyArray(rows, options.maxArray, (chunk) =>
      client.assign(voiceType, target.id, chunk.map((w) => ({ dnis: w.request.row.dnis, ...itemOf(w) }))),
    );
    assignResults.forEach((result, i) => {
      const w = rows[i] as Work;
      // A 409 on a plain assign: someone assigned the number since the search; re-plan so the
      // row's on_conflict rule decides, instead of reporting a raw 409.
      if (!result.ok) stop(w, result.error, actionsOf(w, 'assign').length > 0);
    });
  }
}

async function applyTracking(client: RingCxClient, w: Work, target: Target): Promise<void> {
  const row = w.request.row;
  const item = itemOf(w);
  const update = actionsOf(w, 'updateAssignment')[0];
  try {
    if (update?.tracId) {
      await client.updateTracNumber(row.accountId, target.id, update.tracId, {
        ...(item.dnisDescription !== undefined ? { description: item.dnisDescription } : {}),
        assignedDnis: { dnis: row.dnis, ...item },
      });
    } else {
      await client.createTracNumber(row.accountId, target.id, {
        description: item.dnisDescription ?? row.description ?? row.e164,
        assignedDnis: { dnis: row.dnis, ...item },
      });
    }
  } catch (error) {
    if (!isRingCxError(error)) throw error;
    stop(w, error, !update);
  }
}

type AssignmentAction = Extract<Action, { kind: 'assign' | 'reassign' | 'updateAssignment' }>;

function assignmentAction(w: Work): AssignmentAction | undefined {
  return w.plan.actions.find((a): a is AssignmentAction => a.kind === 'assign' || a.kind === 'reassign' || a.kind === 'updateAssignment');
}

/** Only called for rows grouped by their assignment action, so the action exists. */
function itemOf(w: Work) {
  return (assignmentAction(w) as AssignmentAction).item;
}

function recordFields(record: DnisPool | undefined): Partial<DnisPoolInput> {
  if (!record) return {};
  const fields: Partial<DnisPoolInput> = {};
  if (record.reservedAccountId) fields.reservedAccountId = record.reservedAccountId;
  if (record.dnisDescription != null) fields.dnisDescription = record.dnisDescription;
  if (record.dnisCategory != null) fields.dnisCategory = record.dnisCategory;
  if (record.notes != null) fields.notes = record.notes;
  if (record.active != null) fields.active = record.active;
  return fields;
}

function poolInput(w: Work, fields: Partial<DnisPoolInput>): DnisPoolInput {
  return { ...fields, dnis: w.request.row.dnis, dnisE164: w.request.row.e164 };
}
