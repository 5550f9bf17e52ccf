import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describeTarget, type DesiredRow, encodeMessageBody, type Target } from '../domain/desiredRow';
import { type MaintenanceWindow, msUntilOpen } from '../domain/maintenanceWindow';
import { sameTarget } from '../domain/planner';
import type { ReassignMessage } from '../domain/reassignment';
import { logger, metrics } from '../framework/powertools';
import { withCallTally } from '../framework/ringcxCalls';
import type { RecordVerdict } from '../ingest/processRows';
import { isRingCxError } from '../ringcx/errors';
import type { Runtime } from '../runtime';
import { readCurrentState } from '../sync/currentState';
import { syncRows } from '../sync/syncRows';

const SUCCESS = new Set(['reassigned', 'assigned', 'updated', 'unchanged']);
/** SQS delays a message by 15 minutes at most; a longer wait is a chain of such hops. */
const MAX_DELAY_SECONDS = 900;

export interface ReassignContext {
  window: MaintenanceWindow | undefined;
  now: () => Date;
}

/**
 * One reassignment request, through the same planner and sync engine as file rows:
 * - a request already answered (duplicate delivery) is not applied again;
 * - the current assignment is read just before the move, and `expectedCurrentTarget` must match it;
 * - a move of a live number outside the maintenance window is held on the queue until it opens;
 * - the answer goes back as "DNIS Reassigned" or "DNIS Reassignment Failed", and into the audit trail.
 */
export async function processReassign(rt: Runtime, message: ReassignMessage, receiveCount: number, ctx: ReassignContext): Promise<RecordVerdict> {
  const keys = { requestId: message.requestId, dnis: message.dnis, requestedBy: message.requestedBy };
  if (await rt.store.getRequest(message.requestId)) {
    logger.info('reassignment already answered; duplicate delivery ignored', keys);
    return { status: 'done' };
  }
  const { result, tally } = await withCallTally(async () => {
    let current;
    try {
      current = (await readCurrentState(rt.ringcx, [message.dnis], 1)).state.get(message.dnis);
    } catch (error) {
      if (isRingCxError(error) && error.retryable) return { retry: error.summary } as const;
      if (isRingCxError(error)) return { failed: error.summary } as const;
      throw error;
    }
    if (!current?.pool) return { failed: 'the number is not in the RingCX DNIS pool (or not visible to these credentials)' } as const;
    const before = current.assignment?.target ?? null;
    if (message.expectedCurrentTarget !== undefined && !matches(message.expectedCurrentTarget, before)) {
      return {
        failed: `stale request: the number is ${before ? `on ${describeTarget(before)}` : 'unassigned'}, not ${message.expectedCurrentTarget ? describeTarget(message.expectedCurrentTarget) : 'unassigned'} as expected`,
        before,
      } as const;
    }
    const moving = before !== null && !sameTarget(before, message.target);
    if (moving && ctx.window) {
      const waitMs = msUntilOpen(ctx.window, ctx.now());
      if (waitMs > 0) return { hold: waitMs, before } as const;
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
      // The event is the explicit instruction to move; expectedCurrentTarget was checked above.
      onConflict: 'reassign',
      action: 'upsert',
    };
    const results = await syncRows(rt.ringcx, [{ key: message.requestId, row, mode: 'apply' }], {
      maxArray: 1,
      maxRows: 1,
      reassignMode: rt.config.RINGCX_REASSIGN_MODE,
    });
    const synced = results.get(message.requestId);
    if (!synced || synced.status === 'retry') return { retry: synced?.status === 'retry' ? synced.reason : 'no result' } as const;
    return { synced, before, row } as const;
  });
  tally.publish();

  if ('hold' in result && result.hold !== undefined) {
    const delaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(result.hold / 1000)));
    await rt.aws.sqs.send(
      new SendMessageCommand({
        QueueUrl: rt.config.PRIORITY_QUEUE_URL,
        MessageBody: encodeMessageBody({ ...message, heldSince: message.heldSince ?? ctx.now().toISOString() }),
        DelaySeconds: delaySeconds,
      }),
    );
    logger.info('live number held until the maintenance window opens', { ...keys, waitSeconds: Math.ceil(result.hold / 1000) });
    metrics.addMetric('ReassignmentsHeld', MetricUnit.Count, 1);
    return { status: 'done' };
  }
  if ('retry' in result && result.retry !== undefined) {
    if (receiveCount < rt.config.MAX_RECEIVE_COUNT) return { status: 'retry', reason: result.retry };
    await answer(rt, message, 'failed', `gave up after ${receiveCount} attempts: ${result.retry}`, null, null, tally.total);
    return { status: 'retry', reason: result.retry };
  }
  if ('failed' in result && result.failed !== undefined) {
    await answer(rt, message, 'failed', result.failed, 'before' in result ? (result.before ?? null) : null, null, tally.total);
    return { status: 'done' };
  }
  const { synced, before, row } = result as Extract<typeof result, { synced: unknown }>;
  if (synced.status !== 'done') return { status: 'retry', reason: 'unexpected state' };
  if (!SUCCESS.has(synced.outcome)) {
    await answer(rt, message, 'failed', `${synced.outcome}: ${synced.detail}`, before, before, tally.total);
    return { status: 'done' };
  }
  await rt.store.putLedger({ jobId: `event:${message.requestId}`, line: 0 }, { row, target: message.target, targetDeclared: true });
  await answer(rt, message, synced.outcome, synced.detail, before, message.target, tally.total);
  return { status: 'done' };
}

function matches(expected: Target | null, actual: Target | null): boolean {
  if (expected === null) return actual === null;
  return actual !== null && sameTarget(expected, actual);
}

/** The caller's answer, the audit entry, and the idempotency record: emitted, then recorded. */
async function answer(rt: Runtime, message: ReassignMessage, outcome: string, detail: string, before: Target | null, after: Target | null, apiCalls: number) {
  const ok = outcome !== 'failed';
  const at = new Date().toISOString();
  const payload = {
    requestId: message.requestId,
    dnis: message.dnis,
    requestedBy: message.requestedBy,
    reason: message.reason,
    outcome,
    detail,
    from: before ? describeTarget(before) : null,
    to: after ? describeTarget(after) : null,
    ...(message.heldSince ? { heldSince: message.heldSince } : {}),
  };
  await rt.events.publish(ok ? 'DNIS Reassigned' : 'DNIS Reassignment Failed', ok ? payload : { ...payload, reason: detail, requestReason: message.reason });
  await rt.store.audit({ dnis: message.dnis, requestId: message.requestId, at, requestedBy: message.requestedBy, reason: message.reason, source: message.source, before, after: ok ? after : before, outcome, detail });
  await rt.store.recordRequest(message.requestId, { ...payload, at, apiCalls });
  metrics.addMetric(ok ? 'Reassigned' : 'ReassignmentsFailed', MetricUnit.Count, 1);
  logger.info(ok ? 'reassignment applied' : 'reassignment refused', { requestId: message.requestId, dnis: message.dnis, outcome, detail });
}
