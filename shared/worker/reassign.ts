import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DETAIL_TYPES, encodeMessageBody, METRIC_NAMES, type ReassignMessage } from '../contracts';
import { describeTarget, type DesiredRow, type Target } from '../domain/desiredRow';
import { type MaintenanceWindow, msUntilOpen, routingChange } from '../domain/maintenanceWindow';
import { sameTarget } from '../domain/planner';
import { logger, metrics } from '../observability/powertools';
import { withCallTally } from '../observability/ringcxCalls';
import { describeFailure, type InvocationLimits } from './invocation';
import type { RecordVerdict } from '../lambda/sqsRecords';
import type { OutcomeWrite, RequestRecord } from '../store/jobStore';
import { isRingCxError } from '../ringcx/errors';
import type { WorkerDependencies as Dependencies } from '../dependencies';
import { readCurrentState } from '../ringcx/currentState';
import { requestIntentKey } from '../store/intents';
import type { SyncOptions, SyncRequest } from './sync/contract';
import { syncRows } from './sync/syncRows';

/** The outcomes that leave the number where the request asked: answered "DNIS Reassigned". */
const OUTCOMES_THAT_FULFIL_A_REQUEST = new Set(['reassigned', 'assigned', 'updated', 'unchanged']);
/** SQS delays a message by 15 minutes at most; a longer wait is a chain of such hops. */
const MAX_DELAY_SECONDS = 900;

export interface ReassignContext {
  window: MaintenanceWindow | undefined;
  now: () => Date;
}

/** What one delivery concluded about a request. */
type Decision =
  | { kind: 'hold'; waitMs: number }
  | { kind: 'retry'; reason: string }
  | {
      kind: 'answer';
      outcome: string;
      detail: string;
      before: Target | null;
      after: Target | null;
      ledger?: NonNullable<OutcomeWrite['ledger']>;
    };

/**
 * One reassignment request, through the same planner and sync engine as file rows:
 * - a request already answered (duplicate delivery) is not applied again; one whose answer is
 *   still owed gets that answer sent; one that gave up (a DLQ redrive) is processed again;
 * - `expectedCurrentTarget` is a precondition the sync engine checks on every read it makes, so a
 *   number moved by someone else meanwhile is answered "stale" and left where it is;
 * - a change that stops or moves live routing waits on the queue for the maintenance window;
 * - the result, its audit entry and its ledger entry are recorded in one transaction before the
 *   answer ("DNIS Reassigned" / "DNIS Reassignment Failed") is sent, so the answer is owed until
 *   EventBridge takes it, and always says what RingCX holds.
 */
export async function reassignNumber(
  rt: Dependencies,
  message: ReassignMessage,
  receiveCount: number,
  ctx: ReassignContext,
  limits: InvocationLimits = {},
): Promise<RecordVerdict> {
  const keys = { requestId: message.requestId, dnis: message.dnis, requestedBy: message.requestedBy };
  const lastReceive = receiveCount >= rt.config.MAX_RECEIVE_COUNT;
  const prior = await rt.store.getRequest(message.requestId);
  if (prior && !prior.gaveUp) {
    if (prior.answerSent) {
      logger.info('reassignment already answered; duplicate delivery ignored', keys);
      return { status: 'done' };
    }
    // Recorded, but the answer never left: send it now (the sweeper does too).
    const sent = await sendAnswer(rt, prior);
    return sent || lastReceive ? { status: 'done' } : { status: 'retry', reason: 'the answer is still owed' };
  }

  const { result: decision, tally } = await withCallTally(() => decide(rt, message, ctx, limits));
  tally.publish();

  if (decision.kind === 'hold') {
    const delaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(decision.waitMs / 1000)));
    await rt.aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: rt.config.PRIORITY_QUEUE_URL,
        MessageBody: encodeMessageBody({ ...message, heldSince: message.heldSince ?? ctx.now().toISOString() }),
        DelaySeconds: delaySeconds,
      }),
    );
    logger.info('change to live routing held until the maintenance window opens', { ...keys, waitSeconds: Math.ceil(decision.waitMs / 1000) });
    metrics.addMetric(METRIC_NAMES.reassignmentsHeld, MetricUnit.Count, 1);
    return { status: 'done' };
  }
  if (decision.kind === 'retry') {
    if (!lastReceive) return { status: 'retry', reason: decision.reason };
    // Answered so the caller hears something; the message still goes to the DLQ, and a redrive
    // processes the request again and replaces this answer with the real one.
    await recordOutcomeAndAnswer(rt, message, { kind: 'answer', outcome: 'failed', detail: `gave up after ${receiveCount} attempts: ${decision.reason}`, before: null, after: null }, tally.total, {
      gaveUp: true,
      replacesGaveUp: prior?.gaveUp === true,
    });
    return { status: 'retry', reason: decision.reason };
  }
  const sent = await recordOutcomeAndAnswer(rt, message, decision, tally.total, { gaveUp: false, replacesGaveUp: prior?.gaveUp === true });
  return sent || lastReceive ? { status: 'done' } : { status: 'retry', reason: 'the answer is still owed' };
}

async function decide(rt: Dependencies, message: ReassignMessage, ctx: ReassignContext, limits: InvocationLimits): Promise<Decision> {
  let read;
  try {
    read = await readCurrentState(rt.ringcx, [message.dnis], 1);
  } catch (error) {
    if (isRingCxError(error) && !error.retryable) return answerFailed(error.summary, null);
    return { kind: 'retry', reason: isRingCxError(error) ? error.summary : describeFailure(error) };
  }
  const current = read.state.get(message.dnis);
  if (!current?.pool) return answerFailed('the number is not in the RingCX DNIS pool (or not visible to these credentials)', null);
  const before = current.assignment?.target ?? null;
  const expected = message.expectedCurrentTarget;
  // Already where the caller wants it (an earlier delivery of this request may have moved it):
  // there is nothing to move, so the expectation no longer guards anything.
  const alreadyThere = before !== null && sameTarget(before, message.target);
  if (expected !== undefined && !alreadyThere && !matches(expected, before)) {
    return answerFailed(`stale request: the number is ${before ? `on ${describeTarget(before)}` : 'unassigned'}, not ${expected ? describeTarget(expected) : 'unassigned'} as expected`, before, 'stale');
  }
  const row: DesiredRow = {
    dnis: message.dnis,
    e164: message.e164,
    accountId: current.pool.accountId ?? rt.config.RINGCX_DEFAULT_ACCOUNT_ID ?? '0',
    category: current.pool.category ?? 'VOICE',
    active: current.pool.active ?? true,
    target: message.target,
    ...(message.description !== undefined ? { assignmentDescription: message.description } : {}),
    assignmentActive: message.isActive ?? true,
    // The event is the explicit instruction to move; the expectation guards it.
    onConflict: 'reassign',
    action: 'upsert',
  };
  const change = routingChange(current, row);
  if (change && ctx.window) {
    const waitMs = msUntilOpen(ctx.window, ctx.now());
    if (waitMs > 0) return { kind: 'hold', waitMs };
  }
  const request: SyncRequest = {
    key: message.requestId,
    row,
    mode: 'apply',
    intentKey: requestIntentKey(message.requestId),
    ...(expected !== undefined && !alreadyThere ? { expectedCurrent: expected } : {}),
  };
  const engine: SyncOptions = {
    maxArray: 1,
    maxRows: 1,
    reassignMode: rt.config.RINGCX_REASSIGN_MODE,
    ...(limits.remainingMs ? { remainingMs: limits.remainingMs } : {}),
    intents: rt.intents,
    // The read the expectation was checked on: the engine plans on it rather than searching again.
    firstRead: read,
  };
  let synced;
  try {
    synced = (await syncRows(rt.ringcx, [request], engine)).get(message.requestId);
  } catch (error) {
    return { kind: 'retry', reason: describeFailure(error) };
  }
  if (!synced) return { kind: 'retry', reason: 'the sync engine returned no result' };
  if (synced.status === 'retry') return { kind: 'retry', reason: synced.reason };
  const engineBefore = synced.before?.target ?? before;
  if (synced.stale) return answerFailed(`stale request: ${synced.detail}`, engineBefore, 'stale');
  if (!OUTCOMES_THAT_FULFIL_A_REQUEST.has(synced.outcome)) return answerFailed(`${synced.outcome}: ${synced.detail}`, engineBefore);
  return {
    kind: 'answer',
    outcome: synced.outcome,
    detail: synced.detail,
    before: engineBefore,
    after: message.target,
    ledger: { row, target: message.target, targetDeclared: true },
  };
}

function answerFailed(detail: string, before: Target | null, outcome = 'failed'): Decision {
  // Nothing moved: after = before.
  return { kind: 'answer', outcome, detail, before, after: before };
}

function matches(expected: Target | null, actual: Target | null): boolean {
  if (expected === null) return actual === null;
  return actual !== null && sameTarget(expected, actual);
}

/**
 * Records the result, the audit entry and the ledger entry together with the answer owed (one
 * transaction), counts and logs the outcome, then sends the answer. Returns whether it was sent.
 */
async function recordOutcomeAndAnswer(
  rt: Dependencies,
  message: ReassignMessage,
  decision: Extract<Decision, { kind: 'answer' }>,
  apiCalls: number,
  flags: { gaveUp: boolean; replacesGaveUp: boolean },
): Promise<boolean> {
  const ok = OUTCOMES_THAT_FULFIL_A_REQUEST.has(decision.outcome);
  const at = new Date().toISOString();
  const payload = {
    requestId: message.requestId,
    dnis: message.dnis,
    requestedBy: message.requestedBy,
    reason: message.reason,
    outcome: decision.outcome,
    detail: decision.detail,
    from: decision.before ? describeTarget(decision.before) : null,
    to: decision.after ? describeTarget(decision.after) : null,
    ...(message.heldSince ? { heldSince: message.heldSince } : {}),
  };
  const answer = ok
    ? { detailType: DETAIL_TYPES.reassigned, detail: payload }
    : { detailType: DETAIL_TYPES.reassignmentFailed, detail: { ...payload, reason: decision.detail, requestReason: message.reason } };
  const record: Omit<RequestRecord, 'answerSent'> = {
    requestId: message.requestId,
    dnis: message.dnis,
    outcome: decision.outcome,
    detail: decision.detail,
    at,
    from: payload.from,
    to: payload.to,
    requestedBy: message.requestedBy,
    reason: message.reason,
    apiCalls,
    answer,
    ...(flags.gaveUp ? { gaveUp: true } : {}),
  };
  const recorded = await rt.store.recordRequestResult(
    record,
    {
      dnis: message.dnis,
      requestId: message.requestId,
      at,
      requestedBy: message.requestedBy,
      reason: message.reason,
      source: message.source,
      account: message.account,
      before: decision.before,
      after: decision.after,
      outcome: decision.outcome,
      detail: decision.detail,
    },
    decision.ledger ? { source: { jobId: `event:${message.requestId}`, line: 0 }, entry: decision.ledger } : undefined,
    flags.replacesGaveUp,
  );
  metrics.addMetric(ok ? METRIC_NAMES.reassigned : METRIC_NAMES.reassignmentsFailed, MetricUnit.Count, 1);
  logger.info(ok ? 'reassignment applied' : 'reassignment refused', { requestId: message.requestId, dnis: message.dnis, outcome: decision.outcome, detail: decision.detail, recorded });
  // Another delivery recorded first: its answer is the one owed.
  const stored = recorded ? { ...record, answerSent: false } : await rt.store.getRequest(message.requestId);
  if (!stored || stored.answerSent) return true;
  return sendAnswer(rt, stored);
}

/** Sends a recorded answer and marks it sent. Never throws for a refused event: it stays owed. */
export async function sendAnswer(rt: Dependencies, record: RequestRecord): Promise<boolean> {
  try {
    await rt.events.publish(record.answer.detailType, record.answer.detail);
  } catch (error) {
    logger.warn('answer not accepted; it stays owed and is sent again', { requestId: record.requestId, detailType: record.answer.detailType, error: (error as Error).message });
    return false;
  }
  await rt.store.markAnswerSent(record.requestId);
  return true;
}

/** The sweeper's half of the outbox: sends a request's answer if it is still owed. */
export async function resendOwedAnswer(rt: Dependencies, requestId: string): Promise<boolean> {
  const record = await rt.store.getRequest(requestId);
  if (!record || record.answerSent) {
    await rt.store.forgetOpenRequest(requestId);
    return true;
  }
  return sendAnswer(rt, record);
}
