import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES } from '../../contracts';
import type { Target } from '../../domain/desiredRow';
import type { Action, CurrentAssignment } from '../../domain/planner';
import { logger, metrics } from '../../observability/powertools';
import type { RingCxClient } from '../../ringcx/client';
import { isRingCxError } from '../../ringcx/errors';
import { withCallDeadline, withOwedCalls } from '../../ringcx/transport';
import { describeFailure } from '../invocation';
import type { SyncOptions, SyncRequest, SyncResult } from './contract';
import type { InvocationDeadline } from './budget';
import type { IntentBook } from './intentBook';
import { hasPrecondition, stillAsExpected } from './preconditions';
import { reserveTurns } from './turns';
import { type AssignmentAction, type UnroutedSince, type Work, actionsOf, assignmentAction, clockOf, defer, describe, itemOf, stop } from './work';

/**
 * Work done one number at a time: unassigns, moves that remove first, tracking numbers. A move's
 * two calls go back to back, and a number this call unrouted is given its new target before the
 * call ends, whatever else fails.
 */

export async function applyUnit(
  client: RingCxClient,
  w: Work,
  options: SyncOptions,
  intents: IntentBook,
  unroutedSince: UnroutedSince,
  deadline?: InvocationDeadline,
): Promise<void> {
  const unassign = actionsOf(w, 'unassign')[0];
  const reassign = actionsOf(w, 'reassign')[0];
  if ((unassign || reassign) && hasPrecondition(w.request) && !(await stillAsExpected(client, w, intents))) return;
  if (unassign) {
    await remove(client, w, unassign.from);
    return;
  }
  if (reassign) {
    await move(client, w, reassign, options, unroutedSince, deadline);
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
export async function move(
  client: RingCxClient,
  w: Work,
  action: Extract<Action, { kind: 'reassign' }>,
  options: SyncOptions,
  unroutedSince: UnroutedSince,
  deadline?: InvocationDeadline,
): Promise<void> {
  const now = clockOf(options);
  // The move's turns are taken first, so the assign (and a retry of it) leaves as soon as it may.
  const turns = await reserveTurns(client, options, deadline);
  // Waiting for those turns can take longer than the budget estimated when the move was admitted
  // (another instance started, the budget table answered slowly, RingCX paused everyone). Past
  // this line the number is unrouted, so the deadline is checked again here, with the turns in
  // hand; a move that no longer fits waits for the next delivery, its number still routed (the
  // turns go to the next calls).
  if (deadline && !w.mustFinish && (turns === 'late' || !deadline.fitsUnrouting(2))) {
    defer(w, deadline, 2, 'this move', true);
    return;
  }
  const removing = now();
  const removal = () => remove(client, w, action.from);
  // The removal's retries may not eat the time its assignment needs at worst after it.
  const removed = deadline && options.remainingMs
    ? await withCallDeadline({ remainingMs: options.remainingMs, reserveMs: deadline.marginMs / 2 + deadline.worstCallMs }, removal)
    : await removal();
  if (!removed) {
    // The removal may have stood without its answer: until a read says otherwise, the number is
    // treated as unrouted by this call, so its assignment is owed before the invocation ends.
    if (w.lostAnswer) unroutedSince.set(w.request.key, { since: removing, move: action, removed: false });
    return;
  }
  const removedAt = now();
  // From here the number routes nowhere because of this call. It is owed its new target whatever
  // ends the move: a RingCX error below, or one from elsewhere (the credentials, the budget store,
  // a bug) that unwinds the whole batch, in which case syncRows sends the owed assignment before
  // the error goes on up (finishOwedMoves). Routed again, it no longer is.
  unroutedSince.set(w.request.key, { since: removedAt, move: action, removed: true });
  try {
    // The number is unrouted now: its assignment is sent before the deadline, turn or no turn.
    await withOwedCalls(async () => {
      if (action.target.type === 'trackingGroup') {
        await assignTracking(client, w, action.target);
      } else {
        await assignUntilAnswered(client, w, action.target.type, action, options, deadline);
      }
    });
  } catch (error) {
    if (!isRingCxError(error)) throw error;
    if (error.status === 409 || error.retryable) {
      // Someone routed the number meanwhile, the answer was lost, or RingCX is struggling: a fresh
      // read decides at once, and the next round finishes the move (reported `reassigned`, with
      // its whole gap). Waiting for a redelivery would leave the number unrouted meanwhile.
      w.error = error;
      w.stopped = 'replan';
      w.lostAnswer = error.status !== 409;
      return;
    }
    // RingCX refused the new target for good: put the number back where it was.
    const restored = await withOwedCalls(() => putBack(client, w, action.from));
    unroutedSince.delete(w.request.key);
    if (restored) w.unroutedMs = now() - removedAt;
    w.error = error;
    w.stopped = 'failed';
    w.done.push(restored ? `put back on ${describe(action.from)} after the new target was refused` : `could not put it back on ${describe(action.from)}: the number is unassigned`);
    logGap(w, restored ? 'put back' : 'left unassigned');
    return;
  }
  unroutedSince.delete(w.request.key);
  w.unroutedMs = now() - removedAt;
  w.done.push(`moved to ${action.target.type}:${action.target.id}`);
  logGap(w, 'moved');
}

/**
 * The assignment after an answered removal. The number is unrouted by this call alone, so the same
 * PUT is safe to send again (on the same target it changes nothing): when the client's retries are
 * spent on failures, it is sent again at once for as long as the deadline (less half the margin)
 * leaves room for one more attempt at worst, instead of waiting for the next round and a re-read,
 * which would keep the number unrouted while the rest of the batch goes first. A 409 (someone routed it since) or an
 * error RingCX will not change its mind about ends the loop.
 */
async function assignUntilAnswered(
  client: RingCxClient,
  w: Work,
  type: Exclude<Target['type'], 'trackingGroup'>,
  action: Extract<Action, { kind: 'reassign' }>,
  options: SyncOptions,
  deadline: InvocationDeadline | undefined,
): Promise<void> {
  const send = () => client.assign(type, action.target.id, [{ dnis: w.request.row.dnis, ...action.item }]);
  for (let round = 1; ; round++) {
    try {
      await send();
      return;
    } catch (error) {
      const again = isRingCxError(error) && error.retryable && error.status !== 409 && round < MAX_ASSIGNMENT_ROUNDS && anotherAttemptFits(options, deadline);
      if (!again) throw error;
      logger.warn('a moved number is not yet on its new target; sending its assignment again', { dnis: w.request.row.dnis, round, error: error.summary });
    }
  }
}

/** Rounds of the client's own retries an assignment after a removal gets before a re-read decides. */
const MAX_ASSIGNMENT_ROUNDS = 4;

/**
 * The last resort for numbers this call unrouted when no fresh read can be had (the read failed,
 * the rounds ran out, the deadline is near, or an error unwinds the batch): their new assignment
 * is sent as it stands. Only numbers whose removal RingCX answered qualify, so the write lands on
 * a number this call left unrouted, which gains the target its row asked for.
 * A failure of any kind (RingCX, the credentials, the budget store) is tried again for as long as
 * one more attempt fits before the deadline (less half its margin): the number routes nowhere
 * until then. Nothing is thrown from here; what could not be sent waits for its redelivery.
 * Tracking numbers are left to the redelivery: creating one blind could create it twice.
 */
export async function finishOwedMoves(
  client: RingCxClient,
  pending: SyncRequest[],
  unroutedSince: UnroutedSince,
  options: SyncOptions,
  results: Map<string, SyncResult>,
  deadline?: InvocationDeadline,
): Promise<Set<string>> {
  const finished = new Set<string>();
  for (const request of pending) {
    const owed = unroutedSince.get(request.key);
    // Only a removal RingCX answered: after a lost one the number may still be on its old target
    // (or someone else's since), and whether a PUT would then move it is not documented, so it
    // waits for a read.
    if (!owed?.removed) continue;
    const { target, item, from } = owed.move;
    const voiceType = target.type;
    if (voiceType === 'trackingGroup') continue;
    const send = () => withOwedCalls(() => client.assign(voiceType, target.id, [{ dnis: request.row.dnis, ...item }]));
    const sent = await sendOwedAssignment(send, request.row.dnis, options, deadline);
    if (!sent) continue;
    unroutedSince.delete(request.key);
    const unroutedMs = clockOf(options)() - owed.since;
    metrics.addMetric(METRIC_NAMES.unroutedGapMs, MetricUnit.Milliseconds, Math.round(unroutedMs));
    logger.info('number moved by remove-then-assign', { dnis: request.row.dnis, result: 'moved without a re-read', unroutedMs: Math.round(unroutedMs) });
    results.set(request.key, { status: 'done', outcome: 'reassigned', detail: `moved from ${describe(from)} to ${target.type}:${target.id}`, before: from, after: target, unroutedMs });
    finished.add(request.key);
  }
  return finished;
}

/** True once the assignment stood; false when it cannot be sent before the deadline (or RingCX says the number is routed). */
async function sendOwedAssignment(send: () => Promise<unknown>, dnis: string, options: SyncOptions, deadline: InvocationDeadline | undefined): Promise<boolean> {
  for (let round = 1; ; round++) {
    try {
      await send();
      return true;
    } catch (error) {
      // A 409: the number is routed after all (its removal never stood, or someone routed it).
      if (isRingCxError(error) && error.status === 409) return false;
      const final = isRingCxError(error) && !error.retryable;
      // Failures from outside RingCX (an auth outage, the budget store timing out) had no retries
      // of their own; a short pause gives them a chance to pass.
      const pauseMs = isRingCxError(error) || !deadline ? 0 : Math.min(1_000, deadline.worstAttemptMs / 4);
      if (final || round >= MAX_ASSIGNMENT_ROUNDS || !anotherAttemptFits(options, deadline, pauseMs)) {
        logger.error('a number this invocation unrouted could not be given its new target; its redelivery will', { dnis, rounds: round, error: summaryOf(error) });
        return false;
      }
      logger.warn('a moved number is not yet on its new target; sending its assignment again', { dnis, round, error: summaryOf(error) });
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}

/** One more attempt, at its worst (the request timeout), still ends before half the deadline's margin. */
function anotherAttemptFits(options: SyncOptions, deadline: InvocationDeadline | undefined, pauseMs = 0): boolean {
  return deadline !== undefined && options.remainingMs !== undefined && options.remainingMs() - deadline.marginMs / 2 - pauseMs > deadline.worstAttemptMs;
}

function summaryOf(error: unknown): string {
  return isRingCxError(error) ? error.summary : describeFailure(error);
}

/** A move whose assignment came in a later round than its removal: the gap runs from the removal. */
export function finishGap(w: Work, options: SyncOptions, unroutedSince: UnroutedSince) {
  const owed = unroutedSince.get(w.request.key);
  if (owed === undefined) return;
  // Routed again: it no longer holds back other moves (applyWrites.ts).
  unroutedSince.delete(w.request.key);
  w.unroutedMs = clockOf(options)() - owed.since;
  logGap(w, 'moved after a re-read');
}

/** The unrouted gap of one number, as a metric (its distribution is what matters) and a log line. */
export function logGap(w: Work, result: 'moved' | 'moved after a re-read' | 'moved without a re-read' | 'put back' | 'left unassigned') {
  const unroutedMs = Math.round(w.unroutedMs ?? 0);
  metrics.addMetric(METRIC_NAMES.unroutedGapMs, MetricUnit.Milliseconds, unroutedMs);
  logger.info('number moved by remove-then-assign', { dnis: w.request.row.dnis, result, unroutedMs });
}

export async function remove(client: RingCxClient, w: Work, from: CurrentAssignment): Promise<boolean> {
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

export async function putBack(client: RingCxClient, w: Work, from: CurrentAssignment): Promise<boolean> {
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

export async function assignTracking(client: RingCxClient, w: Work, target: Target): Promise<void> {
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
