import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { type DesiredRow, describeTarget, type Mode, type Outcome, type Target } from '../../domain/desiredRow';
import {
  type Action,
  checkExpectation,
  type CurrentAssignment,
  intentOf,
  planRow,
  type PriorIntent,
  reconcileWithIntent,
  type RowPlan,
  sameTarget,
} from '../../domain/planner';
import { logger, metrics } from '../../observability/powertools';
import type { IntentStore } from '../../store/intents';
import type { RingCxClient } from '../../ringcx/client';
import { isRingCxError, type RingCxError } from '../../ringcx/errors';
import type { DnisPool, DnisPoolInput } from '../../ringcx/schemas';
import { withCallDeadline } from '../../ringcx/transport';
import { applyArray, type ItemResult } from './applyArray';
import { type CallPace, InvocationDeadline } from './budget';
import { readCurrentState, toCurrentAssignment } from '../../ringcx/currentState';
import { describeStateChange, fingerprintOf, snapshotOf, type StateSnapshot } from '../../domain/stateFingerprint';

export interface SyncRequest {
  /** Unique per request within the call, e.g. the SQS message id. */
  key: string;
  row: DesiredRow;
  mode: Mode;
  /**
   * A precondition: where the number must route for the change to go ahead (null: unassigned;
   * undefined: no precondition). Checked against every read, and with a fresh read just before a
   * move or removal is written. When it does not hold nothing is written and the row is `stale`.
   */
  expectedCurrent?: Target | null;
  /**
   * A saved plan's precondition: the whole state (pool fields, assignment, active flags) the row was
   * planned against, and the actions planned. Checked against every read: the first read of each
   * round must match it exactly (and re-plan to the same actions), and the fresh read just before a
   * move or removal must show the assignment that read saw. Otherwise the outcome is `stale` and
   * nothing is written.
   */
  expectedState?: { snapshot: StateSnapshot; fingerprint: string; actions: unknown[] };
  /** Names this row's intent record (rowIntentKey / requestIntentKey), used with SyncOptions.intents. */
  intentKey?: string;
}

export type SyncResult =
  | {
      status: 'done';
      outcome: Outcome;
      detail: string;
      /** Where the number routed before, and where it routes now (for audit and events). */
      before: CurrentAssignment | null;
      after: Target | null;
      /** The precondition (`expectedCurrent`) did not hold; nothing was written. */
      stale?: true;
      /** For a number moved by removing then assigning: ms between the two answers, unrouted meanwhile. */
      unroutedMs?: number;
      /** Plan mode: the actions planned and the state they were planned against, for a saved plan. */
      planned?: { actions: Action[]; state: StateSnapshot };
    }
  | {
      status: 'retry';
      reason: string;
      /**
       * Not a failure: the row's next unit of work was not started (the deadline, or another row
       * for the same number in the batch), so no number is mid-change and the row can be handed on
       * at once rather than wait for its message's visibility timeout.
       */
      deferred?: true;
    };

export interface SyncOptions {
  maxArray: number;
  maxRows: number;
  reassignMode: 'unassign-first' | 'direct';
  /** Time left in the invocation. Without it nothing is held back for a deadline. */
  remainingMs?: () => number;
  /** Time kept free after the last RingCX call; see InvocationDeadline. */
  deadlineMarginMs?: number;
  /** How long calls will take; by default the client's own limiter and observed latency. */
  pace?: CallPace;
  /** Intent records, so outcomes stay true when an answer is lost or a delivery repeats. */
  intents?: IntentStore;
  /** Clock for the unrouted gap of moves. */
  now?: () => number;
}

type Stop = 'failed' | 'retry' | 'replan' | 'deferred' | 'stale';

interface Work {
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

/** Rounds of read → plan → apply; a 409 or a lost answer earns a fresh read. */
const MAX_ROUNDS = 3;

/**
 * Brings a batch of numbers to their desired state with as few RingCX calls as the API allows:
 * one search for the batch, one array create, one array update, one array assign per target. Work
 * that needs a call per number (moves that remove first, unassigns, tracking numbers) runs one
 * number at a time, each as a unit that is only started when the invocation can finish it.
 */
export async function syncRows(client: RingCxClient, requests: SyncRequest[], options: SyncOptions): Promise<Map<string, SyncResult>> {
  const remainingMs = options.remainingMs;
  if (!remainingMs) return syncWithin(client, requests, options, undefined);
  const deadline = new InvocationDeadline({
    remainingMs,
    pace: options.pace ?? clientPace(client),
    ...(options.deadlineMarginMs !== undefined ? { marginMs: options.deadlineMarginMs } : {}),
  });
  // A retry may eat into the margin, but never past half of it: the rest is for recording outcomes.
  return withCallDeadline({ remainingMs, reserveMs: deadline.marginMs / 2 }, () => syncWithin(client, requests, options, deadline));
}

async function syncWithin(
  client: RingCxClient,
  requests: SyncRequest[],
  options: SyncOptions,
  deadline: InvocationDeadline | undefined,
): Promise<Map<string, SyncResult>> {
  const results = new Map<string, SyncResult>();
  const byNumber = new Map<string, SyncRequest>();
  for (const request of requests) {
    if (byNumber.has(request.row.dnis)) {
      // Two rows for one number in one batch would race each other; the later waits for redelivery.
      results.set(request.key, { status: 'retry', reason: 'another change to this number is in the same batch', deferred: true });
    } else {
      byNumber.set(request.row.dnis, request);
    }
  }

  const intents = new IntentBook(options.intents);
  await intents.load([...byNumber.values()]);

  let pending = [...byNumber.values()];
  /** Numbers whose create answered 409: a second miss in search means RingCX hides them from us. */
  const createConflicts = new Set<string>();
  const lostAnswers = new Set<string>();
  const unroutedSince: UnroutedSince = new Map();
  for (let round = 1; round <= MAX_ROUNDS && pending.length > 0; round++) {
    if (deadline && !deadline.fits(1)) {
      // A number this invocation left unrouted (its move's assign failed after the remove) is
      // finished on the margin kept for the deadline: deferring it would leave it routing nowhere
      // until a redelivery. Everything else waits.
      const reason = deadline.explain(1, 'reading the current state');
      for (const request of pending) if (!unroutedSince.has(request.key)) results.set(request.key, { status: 'retry', reason, deferred: true });
      pending = pending.filter((request) => unroutedSince.has(request.key));
      if (pending.length === 0) return results;
    }
    let read;
    try {
      read = await readCurrentState(client, pending.map((r) => r.row.dnis), options.maxRows);
    } catch (error) {
      const finished = await finishOwedMoves(client, pending, unroutedSince, options, results);
      for (const request of pending) if (!finished.has(request.key)) results.set(request.key, failure(error, []));
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
      const stale = staleResult(request, current.assignment, intents.prior(request));
      if (stale) {
        results.set(request.key, stale);
        continue;
      }
      const plan = planRow(request.row, current);
      const state = snapshotOf(current);
      const changed = planChanged(request, state, plan, intents.prior(request));
      if (changed) {
        results.set(request.key, { status: 'done', outcome: 'stale', stale: true, detail: changed, before: current.assignment, after: current.assignment?.target ?? null });
        continue;
      }
      work.push({ request, plan, record: read.records.get(request.row.dnis), before: current.assignment, state, done: [] });
    }
    const writes = work.filter((w) => w.request.mode === 'apply' && w.plan.actions.length > 0);
    for (const w of work) {
      // The read settles whether a removal whose answer was lost stood: a number still on its old
      // target owes nothing; one found unrouted is finished whatever the deadline says.
      const owed = unroutedSince.get(w.request.key);
      if (!owed) continue;
      if (w.before === null) {
        w.mustFinish = true;
      } else {
        // Already on the new target (the assignment stood, its answer lost): the gap ends now.
        if (sameTarget(w.before.target, owed.move.target)) finishGap(w, options, unroutedSince);
        unroutedSince.delete(w.request.key);
      }
    }
    const admitted = deadline ? admit(writes, deadline, options) : writes;
    await intents.record(admitted);
    await applyWrites(client, admitted, options, deadline, intents, unroutedSince);

    pending = [];
    for (const w of work) {
      const key = w.request.key;
      if (w.stopped === 'replan') {
        if (w.lostAnswer) lostAnswers.add(key);
        else if (actionsOf(w, 'createPool').length > 0) createConflicts.add(w.request.row.dnis);
        pending.push(w.request);
      } else if (w.stopped === 'deferred') {
        results.set(key, { status: 'retry', reason: w.reason ?? 'deadline', deferred: true });
      } else if (w.stopped === 'stale') {
        const outcome = w.request.expectedState ? 'stale' : 'conflict';
        results.set(key, { status: 'done', outcome, stale: true, detail: w.reason ?? 'stale', before: w.before, after: w.before?.target ?? null });
      } else if (w.stopped) {
        results.set(key, failure(w.error, w.done));
      } else {
        const truth = w.request.mode === 'apply' ? reconcileWithIntent(w.plan, intents.prior(w.request)) : { outcome: w.plan.outcome, detail: w.plan.detail };
        results.set(key, {
          status: 'done',
          outcome: truth.outcome,
          detail: truth.detail,
          before: truth.before !== undefined ? truth.before : w.before,
          after: targetAfter(w),
          ...(w.unroutedMs !== undefined ? { unroutedMs: w.unroutedMs } : {}),
          ...(w.request.mode === 'plan' ? { planned: { actions: w.plan.actions, state: w.state } } : {}),
        });
      }
      intents.endRound(w);
    }
  }
  const finished = await finishOwedMoves(client, pending, unroutedSince, options, results);
  for (const request of pending) {
    if (finished.has(request.key)) continue;
    if (lostAnswers.has(request.key)) {
      // RingCX's answers kept getting lost; the change may stand. The next delivery re-reads.
      results.set(request.key, { status: 'retry', reason: `RingCX's answer was lost ${MAX_ROUNDS} times; the next delivery re-reads before writing` });
    } else {
      results.set(request.key, {
        status: 'done',
        outcome: 'failed',
        detail: 'the number kept changing in RingCX while it was being applied (409 three times); try again',
        before: null,
        after: null,
      });
    }
  }
  return results;
}

/**
 * What this row set out to do: from an earlier delivery (the intent store) or from an earlier
 * round of this call. An intent of this call whose write RingCX refused outright is forgotten,
 * since a refused write changed nothing.
 */
class IntentBook {
  private readonly stored = new Map<string, PriorIntent>();
  private readonly session = new Map<string, PriorIntent>();

  constructor(private readonly store: IntentStore | undefined) {}

  async load(requests: SyncRequest[]): Promise<void> {
    const keys = requests.filter((r) => r.mode === 'apply' && r.intentKey).map((r) => r.intentKey as string);
    if (!this.store || keys.length === 0) return;
    const found = await this.store.load(keys);
    for (const request of requests) {
      const intent = request.intentKey ? found.get(request.intentKey) : undefined;
      if (intent && intent.dnis === request.row.dnis) this.stored.set(request.key, intent);
    }
  }

  prior(request: SyncRequest): PriorIntent | undefined {
    return this.stored.get(request.key) ?? this.session.get(request.key);
  }

  /** Before the writes: the first intent of a row is kept, here and in the store. */
  async record(admitted: Work[]): Promise<void> {
    const fresh: Work[] = [];
    for (const w of admitted) {
      if (this.prior(w.request)) continue;
      const intent = intentOf(w.plan, w.before);
      if (!intent) continue;
      this.session.set(w.request.key, intent);
      if (w.request.intentKey) fresh.push(w);
    }
    if (!this.store || fresh.length === 0) return;
    await this.store.record(
      fresh.map((w) => ({ key: w.request.intentKey as string, dnis: w.request.row.dnis, ...(this.session.get(w.request.key) as PriorIntent) })),
    );
  }

  endRound(w: Work): void {
    const refused = w.stopped === 'failed' || (w.stopped === 'replan' && !w.lostAnswer) || w.stopped === 'stale';
    if (refused && w.done.length === 0) this.session.delete(w.request.key);
  }
}

function clientPace(client: RingCxClient): CallPace {
  const transport = client.transport;
  return {
    estimateWaitMs: (calls) => transport.limiter?.estimateWaitMs(calls) ?? 0,
    latencyMs: () => transport.expectedLatencyMs,
  };
}

/** Whether a check on a fresh read is owed before this row's routing is written. */
const hasPrecondition = (request: SyncRequest) => request.expectedCurrent !== undefined || request.expectedState !== undefined;

const ROUTING_FIELDS = ['target', 'tracId', 'assignmentActive', 'assignmentDescription'] as const;

/**
 * A saved plan's check on a full read: equal fingerprints mean the planner sees what it saw when
 * the plan was made, so the fresh plan must be the saved one. Returns why not, or undefined.
 *
 * One exception: an earlier delivery of this very row may have written part of the plan before it
 * died (intent recorded). The state then differs by this row's own change; it may go on as long as
 * what is left to do is part of what was approved.
 */
function planChanged(request: SyncRequest, now: StateSnapshot, plan: RowPlan, intent: PriorIntent | undefined): string | undefined {
  const expected = request.expectedState;
  if (!expected) return undefined;
  if (fingerprintOf(now) === expected.fingerprint) {
    if (canonicalJson(plan.actions) === canonicalJson(expected.actions)) return undefined;
    return 'the plan no longer matches what this version would do; plan again';
  }
  if (intent && ownProgress(request, expected, now) && plan.actions.every((action) => approvedKinds(expected.actions).has(action.kind))) return undefined;
  return `RingCX changed since the plan: ${describeStateChange(expected.snapshot, now) || 'state differs'}`;
}

/**
 * Whether the routing found is one this row's own approved actions lead through: still where the
 * plan found it, removed (by its own move or unassign), or already on the planned target. Anyone
 * else's move shows up as another target and stays stale.
 */
function ownProgress(request: SyncRequest, expected: NonNullable<SyncRequest['expectedState']>, now: StateSnapshot): boolean {
  const kinds = new Set(expected.actions.map((a) => String((a as { kind?: unknown }).kind)));
  const allowed = new Set<string | null>([expected.snapshot.target]);
  if (kinds.has('reassign') || kinds.has('unassign')) allowed.add(null);
  if (kinds.has('assign') || kinds.has('reassign') || kinds.has('updateAssignment')) allowed.add(describeTarget(request.row.target));
  return allowed.has(now.target);
}

/** A move approved as remove-then-assign may be finished by its assignment alone. */
function approvedKinds(actions: unknown[]): Set<string> {
  const kinds = new Set(actions.map((a) => String((a as { kind?: unknown }).kind)));
  if (kinds.has('reassign')) kinds.add('assign');
  if (kinds.has('createPool')) kinds.add('updatePool');
  return kinds;
}

function staleResult(request: SyncRequest, found: CurrentAssignment | null, intent: PriorIntent | undefined): SyncResult | undefined {
  if (request.expectedCurrent === undefined) return undefined;
  const check = checkExpectation(request.expectedCurrent, found?.target ?? null, intent);
  if (check.ok) return undefined;
  return { status: 'done', outcome: 'conflict', stale: true, detail: check.detail, before: found, after: found?.target ?? null };
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

/**
 * A 409 on a write whose row may re-plan means someone changed the number since the read; an
 * ambiguous failure means the change may stand without an answer. Both earn a fresh read, never
 * a blind repeat. Other transient failures wait for redelivery; the rest are final.
 */
function stop(w: Work, error: RingCxError, conflictMeansReplan: boolean) {
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

function settle(w: Work, result: ItemResult, onSuccess: string | undefined, conflictMeansReplan: boolean, deadline: InvocationDeadline | undefined) {
  if (result.ok) {
    if (onSuccess) w.done.push(onSuccess);
  } else if ('deferred' in result) {
    defer(w, deadline, 1, 'the next array call');
  } else {
    stop(w, result.error, conflictMeansReplan);
  }
}

function defer(w: Work, deadline: InvocationDeadline | undefined, calls: number, what: string) {
  w.stopped = 'deferred';
  w.reason = deadline?.explain(calls, what) ?? 'deadline';
}

const alive = (w: Work) => w.stopped === undefined;

type AssignmentAction = Extract<Action, { kind: 'assign' | 'reassign' | 'updateAssignment' }>;

function assignmentAction(w: Work): AssignmentAction | undefined {
  return w.plan.actions.find((a): a is AssignmentAction => a.kind === 'assign' || a.kind === 'reassign' || a.kind === 'updateAssignment');
}

/** Only called for rows grouped by their assignment action, so the action exists. */
function itemOf(w: Work) {
  return (assignmentAction(w) as AssignmentAction).item;
}

/**
 * Moves run as remove-then-assign unless the tenant moves a number on PUT ("direct"). Tracking
 * numbers have no move operation, so moves to or from them always remove first.
 */
function removesFirst(action: Extract<Action, { kind: 'reassign' }>, options: SyncOptions): boolean {
  return options.reassignMode === 'unassign-first' || action.from.target.type === 'trackingGroup' || action.target.type === 'trackingGroup';
}

/** How a row's RingCX calls are made: in shared array calls, or as a unit of its own. */
function shapeOf(w: Work, options: SyncOptions) {
  const fresh = hasPrecondition(w.request) ? 1 : 0;
  const reassign = actionsOf(w, 'reassign')[0];
  const unassign = actionsOf(w, 'unassign')[0];
  const assignment = assignmentAction(w);
  let unitCalls = 0;
  let arrayTarget: string | undefined;
  if (unassign) unitCalls = fresh + 1;
  else if (reassign && removesFirst(reassign, options)) unitCalls = fresh + 2;
  else if (assignment && assignment.target.type === 'trackingGroup') unitCalls = 1;
  else if (assignment) {
    arrayTarget = `${assignment.target.type}:${assignment.target.id}`;
    if (reassign) unitCalls = fresh;
  }
  return { create: actionsOf(w, 'createPool').length > 0, update: actionsOf(w, 'updatePool').length > 0, arrayTarget, unitCalls };
}

/**
 * Picks the rows this invocation can finish, in order: each row is admitted only if the calls of
 * every admitted row together still fit before the deadline. Array calls are shared, so a row that
 * joins an array already being sent costs nothing extra. The rest are not started at all.
 */
function admit(writes: Work[], deadline: InvocationDeadline, options: SyncOptions): Work[] {
  let creates = 0;
  let updates = 0;
  let units = 0;
  const arrays = new Map<string, number>();
  const calls = () =>
    Math.ceil(creates / options.maxArray) +
    Math.ceil(updates / options.maxArray) +
    [...arrays.values()].reduce((n, size) => n + Math.ceil(size / options.maxArray), 0) +
    units;
  const admitted: Work[] = [];
  for (const w of writes) {
    const shape = shapeOf(w, options);
    const before = calls();
    creates += shape.create ? 1 : 0;
    updates += shape.update ? 1 : 0;
    units += shape.unitCalls;
    if (shape.arrayTarget) arrays.set(shape.arrayTarget, (arrays.get(shape.arrayTarget) ?? 0) + 1);
    const total = calls();
    if (w.mustFinish || deadline.fits(total)) {
      admitted.push(w);
      continue;
    }
    creates -= shape.create ? 1 : 0;
    updates -= shape.update ? 1 : 0;
    units -= shape.unitCalls;
    if (shape.arrayTarget) arrays.set(shape.arrayTarget, (arrays.get(shape.arrayTarget) ?? 1) - 1);
    defer(w, deadline, total - before, 'this row');
  }
  return admitted;
}

/**
 * Numbers this call removed from their old target (or may have: the removal's answer was lost)
 * whose new assignment is still owed: since when, and the move itself, so the assignment can be
 * sent even when no fresh read can be had.
 */
type UnroutedSince = Map<string, OwedMove>;

interface OwedMove {
  since: number;
  move: Extract<Action, { kind: 'reassign' }>;
}

async function applyWrites(
  client: RingCxClient,
  writes: Work[],
  options: SyncOptions,
  deadline: InvocationDeadline | undefined,
  intents: IntentBook,
  unroutedSince: UnroutedSince,
): Promise<void> {
  const oneMoreCall = () => !deadline || deadline.fits(1);

  // 1. New pool records, one atomic array call (split only around bad records).
  const creates = writes.filter((w) => actionsOf(w, 'createPool').length > 0);
  const createResults = await applyArray(
    creates,
    options.maxArray,
    (chunk) => client.createDnisPool(chunk.map((w) => poolInput(w, actionsOf(w, 'createPool')[0]?.fields ?? {}))),
    oneMoreCall,
  );
  // A 409 on create means the number appeared since the search (a concurrent or timed-out earlier
  // attempt created it); a lost answer means it may have. Either way: re-read, never create twice.
  createResults.forEach((result, i) => settle(creates[i] as Work, result, 'created', true, deadline));

  // 2. Changed pool fields. The whole record is sent: a PUT may replace what it is not given.
  const updates = writes.filter((w) => alive(w) && actionsOf(w, 'updatePool').length > 0);
  const updateResults = await applyArray(
    updates,
    options.maxArray,
    (chunk) => client.updateDnisPool(chunk.map((w) => poolInput(w, { ...recordFields(w.record), ...actionsOf(w, 'updatePool')[0]?.fields }))),
    oneMoreCall,
  );
  updateResults.forEach((result, i) => settle(updates[i] as Work, result, 'pool record updated', false, deadline));

  // 3. Voice assignments in one array call per destination: new assignments, changed ones, and
  // moves where RingCX moves a number on PUT (one call, never unrouted).
  const byTarget = new Map<string, { target: Target; rows: Work[] }>();
  const units: Work[] = [];
  for (const w of writes.filter(alive)) {
    const shape = shapeOf(w, options);
    if (!shape.arrayTarget) {
      if (shape.unitCalls > 0) units.push(w);
      continue;
    }
    const action = assignmentAction(w) as AssignmentAction;
    const group = byTarget.get(shape.arrayTarget) ?? { target: action.target, rows: [] };
    group.rows.push(w);
    byTarget.set(shape.arrayTarget, group);
  }
  for (const { target, rows } of byTarget.values()) {
    const ready: Work[] = [];
    for (const w of rows) {
      // A move with a precondition is checked on a fresh read just before its PUT.
      if (actionsOf(w, 'reassign').length > 0 && hasPrecondition(w.request)) {
        if (!oneMoreCall()) {
          defer(w, deadline, 2, 'this move');
          continue;
        }
        if (!(await stillAsExpected(client, w, intents))) continue;
      }
      ready.push(w);
    }
    const voiceType = target.type as Exclude<Target['type'], 'trackingGroup'>;
    // Numbers this invocation unrouted go first, in calls of their own that the deadline never holds back.
    ready.sort((a, b) => Number(b.mustFinish ?? false) - Number(a.mustFinish ?? false));
    const rescued = ready.filter((w) => w.mustFinish).length;
    const send = (chunk: Work[]) => client.assign(voiceType, target.id, chunk.map((w) => ({ dnis: w.request.row.dnis, ...itemOf(w) })));
    const assignResults = [
      ...(await applyArray(ready.slice(0, rescued), options.maxArray, send, () => true)),
      ...(await applyArray(ready.slice(rescued), options.maxArray, send, oneMoreCall)),
    ];
    assignResults.forEach((result, i) => {
      const w = ready[i] as Work;
      // A 409 on a plain assign: someone assigned the number since the search; re-plan so the
      // row's on_conflict rule decides, instead of reporting a raw 409.
      settle(w, result, undefined, actionsOf(w, 'assign').length > 0, deadline);
      if (!result.ok) return;
      if (actionsOf(w, 'reassign').length > 0) w.unroutedMs = 0;
      else finishGap(w, options, unroutedSince);
    });
  }

  // 4. One number at a time: unassigns, moves that remove first, tracking numbers. Each is a unit
  // started only when the invocation can finish it; a move's two calls go back to back.
  for (const w of units) {
    if (!alive(w)) continue;
    const calls = shapeOf(w, options).unitCalls;
    if (deadline && !w.mustFinish && !deadline.fits(calls)) {
      defer(w, deadline, calls, actionsOf(w, 'reassign').length > 0 ? 'this move' : 'this number');
      continue;
    }
    await applyUnit(client, w, options, intents, unroutedSince);
  }
}

async function applyUnit(client: RingCxClient, w: Work, options: SyncOptions, intents: IntentBook, unroutedSince: UnroutedSince): Promise<void> {
  const unassign = actionsOf(w, 'unassign')[0];
  const reassign = actionsOf(w, 'reassign')[0];
  if ((unassign || reassign) && hasPrecondition(w.request) && !(await stillAsExpected(client, w, intents))) return;
  if (unassign) {
    await remove(client, w, unassign.from);
    return;
  }
  if (reassign) {
    await move(client, w, reassign, options, unroutedSince);
    return;
  }
  const assignment = assignmentAction(w) as AssignmentAction;
  try {
    await assignTracking(client, w, assignment.target);
    finishGap(w, options, unroutedSince);
  } catch (error) {
    if (!isRingCxError(error)) throw error;
    // A 409 on a new tracking number: someone assigned the number since the search; re-plan.
    stop(w, error, assignment.kind === 'assign');
  }
}

/** Remove, then assign, back to back; the time between the two answers is the unrouted gap. */
async function move(client: RingCxClient, w: Work, action: Extract<Action, { kind: 'reassign' }>, options: SyncOptions, unroutedSince: UnroutedSince): Promise<void> {
  const now = clockOf(options);
  // Both calls' turns are taken first, so the assign leaves as soon as the remove is answered.
  await client.transport?.limiter?.reserve(2);
  const removing = now();
  if (!(await remove(client, w, action.from))) {
    // The removal may have stood without its answer: until a read says otherwise, the number is
    // treated as unrouted by this call, so its assignment is owed before the invocation ends.
    if (w.lostAnswer) unroutedSince.set(w.request.key, { since: removing, move: action });
    return;
  }
  const removedAt = now();
  try {
    if (action.target.type === 'trackingGroup') {
      await assignTracking(client, w, action.target);
    } else {
      await client.assign(action.target.type, action.target.id, [{ dnis: w.request.row.dnis, ...action.item }]);
    }
  } catch (error) {
    if (!isRingCxError(error)) throw error;
    if (error.status === 409 || error.retryable) {
      // Someone routed the number meanwhile, the answer was lost, or RingCX is struggling: a fresh
      // read decides at once, and the next round finishes the move (reported `reassigned`, with
      // its whole gap). Waiting for a redelivery would leave the number unrouted meanwhile.
      w.error = error;
      w.stopped = 'replan';
      w.lostAnswer = error.status !== 409;
      unroutedSince.set(w.request.key, { since: removedAt, move: action });
      return;
    }
    // RingCX refused the new target for good: put the number back where it was.
    const restored = await putBack(client, w, action.from);
    if (restored) w.unroutedMs = now() - removedAt;
    w.error = error;
    w.stopped = 'failed';
    w.done.push(restored ? `put back on ${describe(action.from)} after the new target was refused` : `could not put it back on ${describe(action.from)}: the number is unassigned`);
    logGap(w, restored ? 'put back' : 'left unassigned');
    return;
  }
  w.unroutedMs = now() - removedAt;
  w.done.push(`moved to ${action.target.type}:${action.target.id}`);
  logGap(w, 'moved');
}

/**
 * The last resort for numbers this call unrouted when no fresh read can be had (the read failed,
 * or the rounds ran out): their new assignment is sent as it stands. That is safe without a read:
 * an unrouted number gains the target its row asked for, and a number whose removal did not stand
 * after all is either moved there too (what the row asked) or refused with a 409, changing nothing.
 * Tracking numbers are left to the redelivery: creating one blind could create it twice.
 */
async function finishOwedMoves(
  client: RingCxClient,
  pending: SyncRequest[],
  unroutedSince: UnroutedSince,
  options: SyncOptions,
  results: Map<string, SyncResult>,
): Promise<Set<string>> {
  const finished = new Set<string>();
  for (const request of pending) {
    const owed = unroutedSince.get(request.key);
    if (!owed) continue;
    const { target, item, from } = owed.move;
    if (target.type === 'trackingGroup') continue;
    try {
      await client.assign(target.type, target.id, [{ dnis: request.row.dnis, ...item }]);
    } catch (error) {
      if (!isRingCxError(error)) throw error;
      // A 409: the number is routed after all (its removal never stood, or someone routed it).
      if (error.status !== 409) logger.error('a number this invocation unrouted could not be given its new target; its redelivery will', { dnis: request.row.dnis, error: error.summary });
      continue;
    }
    const unroutedMs = clockOf(options)() - owed.since;
    metrics.addMetric('UnroutedGapMs', MetricUnit.Milliseconds, Math.round(unroutedMs));
    logger.info('number moved by remove-then-assign', { dnis: request.row.dnis, result: 'moved without a re-read', unroutedMs: Math.round(unroutedMs) });
    results.set(request.key, { status: 'done', outcome: 'reassigned', detail: `moved from ${describe(from)} to ${target.type}:${target.id}`, before: from, after: target, unroutedMs });
    finished.add(request.key);
  }
  return finished;
}

/** A move whose assignment came in a later round than its removal: the gap runs from the removal. */
function finishGap(w: Work, options: SyncOptions, unroutedSince: UnroutedSince) {
  const owed = unroutedSince.get(w.request.key);
  if (owed === undefined) return;
  w.unroutedMs = clockOf(options)() - owed.since;
  logGap(w, 'moved after a re-read');
}

const clockOf = (options: SyncOptions) => options.now ?? (() => performance.now());

function describe(from: CurrentAssignment): string {
  return `${from.target.type}:${from.target.id}`;
}

/** The unrouted gap of one number, as a metric (its distribution is what matters) and a log line. */
function logGap(w: Work, result: 'moved' | 'moved after a re-read' | 'moved without a re-read' | 'put back' | 'left unassigned') {
  const unroutedMs = Math.round(w.unroutedMs ?? 0);
  metrics.addMetric('UnroutedGapMs', MetricUnit.Milliseconds, unroutedMs);
  logger.info('number moved by remove-then-assign', { dnis: w.request.row.dnis, result, unroutedMs });
}

async function remove(client: RingCxClient, w: Work, from: CurrentAssignment): Promise<boolean> {
  try {
    await client.removeAssignment(w.request.row.dnis);
    w.done.push(`removed from ${describe(from)}`);
    return true;
  } catch (error) {
    if (!isRingCxError(error)) throw error;
    // A removal is safe to repeat, so the transport already retried it; after a lost answer the
    // next read shows whether it stood (and a half-done move is then finished).
    stop(w, error, false);
    return false;
  }
}

async function putBack(client: RingCxClient, w: Work, from: CurrentAssignment): Promise<boolean> {
  const item = { isActive: from.isActive ?? true, ...(from.description !== undefined ? { dnisDescription: from.description } : {}) };
  try {
    if (from.target.type === 'trackingGroup') {
      if (from.tracId === undefined) return false;
      await client.updateTracNumber(w.request.row.accountId, from.target.id, from.tracId, { assignedDnis: { dnis: w.request.row.dnis, ...item } });
    } else {
      await client.assign(from.target.type, from.target.id, [{ dnis: w.request.row.dnis, ...item }]);
    }
    return true;
  } catch (error) {
    if (!isRingCxError(error)) throw error;
    logger.error('a number could not be put back after its move was refused; it is unassigned', { dnis: w.request.row.dnis, from: describe(from), error: error.summary });
    return false;
  }
}

/** The precondition on a fresh read of the number's assignment, just before its routing is written. */
async function stillAsExpected(client: RingCxClient, w: Work, intents: IntentBook): Promise<boolean> {
  let found: CurrentAssignment | null;
  try {
    found = toCurrentAssignment(await client.getAssignment(w.request.row.dnis));
  } catch (error) {
    if (!isRingCxError(error)) throw error;
    stop(w, error, false);
    return false;
  }
  const stale = staleResult(w.request, found, intents.prior(w.request));
  if (stale && stale.status === 'done') {
    w.stopped = 'stale';
    w.reason = stale.detail;
    w.before = found;
    return false;
  }
  const expected = w.request.expectedState;
  if (expected) {
    // Only the routing is read here; it must still be what this round's full read saw.
    const now = { ...w.state, ...pick(snapshotOf({ pool: undefined, assignment: found }), ROUTING_FIELDS) };
    if (ROUTING_FIELDS.some((field) => now[field] !== w.state[field])) {
      w.stopped = 'stale';
      w.reason = `RingCX changed since the plan: ${describeStateChange(expected.snapshot, now) || 'state differs'}`;
      w.before = found;
      return false;
    }
  }
  return true;
}

async function assignTracking(client: RingCxClient, w: Work, target: Target): Promise<void> {
  const row = w.request.row;
  const item = itemOf(w);
  const update = actionsOf(w, 'updateAssignment')[0];
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

/** JSON with object keys sorted: a plan read back from storage need not keep its key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, value[key]])) as Pick<T, K>;
}
