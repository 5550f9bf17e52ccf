import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES, type RowMessage, RowMessageSchema, rowsMetricName } from '../contracts';
import { describeTarget } from '../domain/desiredRow';
import { logger, metrics } from '../observability/powertools';
import { withCallTally } from '../observability/ringcxCalls';
import { completeIfDone } from '../jobs/completion';
import type { LastAttempt, OutcomeWrite } from '../store/jobStore';
import type { WorkerDependencies as Dependencies } from '../dependencies';
import type { QueueRecord, RecordVerdict } from '../lambda/sqsRecords';
import { rowIntentKey } from '../store/intents';
import { SnapshotSchema } from '../domain/savedPlan';
import { fingerprintOf, type StateSnapshot } from '../domain/stateFingerprint';
import type { SyncOptions, SyncRequest, SyncResult } from './sync/contract';
import { syncRows } from './sync/syncRows';

/** What the invocation lends the work: how long it has left. */
export interface InvocationLimits {
  /** Milliseconds left in this invocation (Lambda's getRemainingTimeInMillis). */
  remainingMs?: () => number;
}

/**
 * Any failure that is not RingCX's verdict on a row (credentials outage, configuration, a bug) in
 * words for the report. Bounded, and built from the error's own message, which never holds tokens.
 */
export function describeFailure(error: unknown): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return `${name}: ${message}`.slice(0, 300);
}

/** After these RingCX holds what the row declares, so the ledger records the row. */
const OUTCOMES_WHERE_RINGCX_HOLDS_THE_ROW = new Set(['created', 'updated', 'assigned', 'reassigned', 'unassigned', 'unchanged']);
const WRITE_OUTCOMES = new Set(['created', 'updated', 'assigned', 'reassigned', 'unassigned']);

function savedRowPlan(row: RowMessage['row'], planned: NonNullable<Extract<SyncResult, { status: 'done' }>['planned']>): NonNullable<OutcomeWrite['planned']> {
  return { row, actions: planned.actions as unknown as Record<string, unknown>[], state: planned.state, fingerprint: fingerprintOf(planned.state) };
}

/**
 * "Who approved moving this number?": each change an approved plan made goes into the number's
 * audit trail with the approver, their reason, the plan and the apply job.
 */
async function auditPlannedChange(rt: Dependencies, message: RowMessage, write: OutcomeWrite, result: Extract<SyncResult, { status: 'done' }>): Promise<void> {
  const planned = message.planned as NonNullable<RowMessage['planned']>;
  try {
    await rt.store.audit({
      dnis: message.row.dnis,
      requestId: `${message.jobId}#${message.line}`,
      at: new Date().toISOString(),
      requestedBy: planned.approvedBy,
      reason: planned.reason,
      source: `approved/${planned.planId}.json`,
      before: result.before?.target ?? null,
      after: result.after,
      outcome: write.outcome,
      detail: write.detail,
      planId: planned.planId,
      jobId: message.jobId,
    });
  } catch (error) {
    // The outcome is recorded; the plan's own record still names the approver for this job.
    logger.error('audit entry for a planned change not written', { jobId: message.jobId, line: message.line, error: describeFailure(error) });
  }
}

/**
 * A batch of row messages: drop the rows that already have an outcome (duplicate deliveries),
 * sync the rest against RingCX in one go, record each final outcome exactly once, and write the
 * job's reports when its last row lands.
 */
export async function processRowRecords(rt: Dependencies, records: QueueRecord[], limits: InvocationLimits = {}): Promise<Map<string, RecordVerdict>> {
  const verdicts = new Map<string, RecordVerdict>();
  const messages: { record: QueueRecord; message: RowMessage }[] = [];
  for (const record of records) {
    const parsed = parseMessage(record.body);
    if (!parsed.ok) {
      // No job or line to report against: the message goes to the DLQ, where it is kept for a person.
      logger.error('unreadable work-queue message', { messageId: record.messageId, problem: parsed.reason });
      metrics.addMetric(METRIC_NAMES.unreadableMessages, MetricUnit.Count, 1);
      verdicts.set(record.messageId, { status: 'retry', reason: `unreadable message: ${parsed.reason}` });
      continue;
    }
    messages.push({ record, message: parsed.message });
  }

  // Rows already recorded are done, unless they were recorded as gave-up failures (a DLQ redrive).
  const byJob = groupBy(messages, (m) => m.message.jobId);
  const todo: typeof messages = [];
  const replacing = new Set<string>();
  const firstOfLine = new Map<string, string>();
  for (const [jobId, items] of byJob) {
    const existing = await rt.store.existingOutcomes(jobId, items.map((m) => m.message.line));
    for (const item of items) {
      const prior = existing.get(item.message.line);
      const lineKey = `${jobId}#${item.message.line}`;
      if (prior && !prior.gaveUp) {
        logger.info('row already has an outcome; duplicate delivery ignored', rowKeys(item.message, { outcome: prior.outcome }));
        verdicts.set(item.record.messageId, { status: 'done' });
      } else if (firstOfLine.has(lineKey)) {
        // The same message twice in one batch: the first copy speaks for both.
        verdicts.set(item.record.messageId, { status: 'done' });
      } else {
        firstOfLine.set(lineKey, item.record.messageId);
        if (prior?.gaveUp) replacing.add(lineKey);
        todo.push(item);
      }
    }
  }

  // Rows handed on before are served first, so a row cannot be deferred behind fresh rows forever.
  todo.sort((a, b) => (b.message.deferrals ?? 0) - (a.message.deferrals ?? 0));

  // A row on its last allowed delivery is marked before the work: if this invocation dies (crash,
  // timeout), the sweeper finds the mark without an outcome and settles the row.
  const lastTries = new Map<string, LastAttempt[]>();
  for (const { record, message } of todo) {
    if (record.receiveCount < rt.config.MAX_RECEIVE_COUNT) continue;
    const list = lastTries.get(message.jobId) ?? [];
    list.push({ line: message.line, dnis: message.row.dnis, target: describeTarget(message.row.target), raw: message.raw, receives: record.receiveCount, startedAt: Date.now() });
    lastTries.set(message.jobId, list);
  }
  for (const [jobId, attempts] of lastTries) await rt.store.recordLastAttempts(jobId, attempts);

  const requests: SyncRequest[] = todo.map(({ record, message }) => ({
    key: record.messageId,
    row: message.row,
    mode: message.mode,
    // The engine's rowIntentKey format (shared/store/intents.ts).
    intentKey: rowIntentKey(message.jobId, message.line),
    ...(message.planned ? { expectedState: { snapshot: message.planned.state as unknown as StateSnapshot, fingerprint: message.planned.fingerprint, actions: message.planned.actions } } : {}),
  }));
  const engine: SyncOptions = {
    maxArray: rt.config.RINGCX_MAX_ARRAY,
    maxRows: 1_000,
    reassignMode: rt.config.RINGCX_REASSIGN_MODE,
    ...(limits.remainingMs ? { remainingMs: limits.remainingMs } : {}),
    intents: rt.intents,
  };
  let results: Map<string, SyncResult>;
  let callsUsed = 0;
  try {
    const synced = await withCallTally(() => syncRows(rt.ringcx, requests, engine));
    synced.tally.publish();
    results = synced.result;
    callsUsed = synced.tally.total;
  } catch (error) {
    // Not a verdict on any row (credentials outage, configuration): every row is retried, and on its
    // last allowed receive recorded as gave-up, so the job still completes.
    logger.error('sync failed for the whole batch; rows will be retried', { error: describeFailure(error), rows: requests.length });
    const retry: SyncResult = { status: 'retry', reason: describeFailure(error) };
    results = new Map(requests.map((r) => [r.key, retry]));
  }

  const writes = new Map<string, OutcomeWrite[]>();
  const messageOf = new Map<string, string>();
  const handOn: Deferred[] = [];
  for (const { record, message } of todo) {
    let result = results.get(record.messageId) as SyncResult;
    const lastReceive = record.receiveCount >= rt.config.MAX_RECEIVE_COUNT;
    if (result.status === 'retry' && result.deferred) {
      const deferrals = message.deferrals ?? 0;
      if (deferrals < rt.config.MAX_DEFERRALS) {
        handOn.push({ record, message, reason: result.reason });
        continue;
      }
      // Handed on as often as allowed: from here the row takes the ordinary retry path and, if it
      // still never fits, ends as failed on its last receive with this reason.
      result = { ...result, reason: `${result.reason} (not started in ${deferrals + 1} invocations)` };
    }
    if (result.status === 'retry' && !lastReceive) {
      logger.warn('row will be retried', rowKeys(message, { reason: result.reason, receiveCount: record.receiveCount }));
      verdicts.set(record.messageId, { status: 'retry', reason: result.reason });
      continue;
    }
    const write: OutcomeWrite =
      result.status === 'retry'
        ? {
            line: message.line,
            dnis: message.row.dnis,
            outcome: 'failed',
            detail: `gave up after ${record.receiveCount} attempts: ${result.reason}`,
            target: describeTarget(message.row.target),
            raw: message.raw,
            gaveUp: true,
          }
        : {
            line: message.line,
            dnis: message.row.dnis,
            outcome: result.outcome,
            detail: result.detail,
            target: describeTarget(message.row.target),
            raw: message.raw,
            ...(message.mode === 'apply' && OUTCOMES_WHERE_RINGCX_HOLDS_THE_ROW.has(result.outcome)
              ? {
                  ledger: {
                    row: message.row,
                    target: message.row.action === 'unassign' ? null : message.row.target,
                    targetDeclared: message.row.action === 'unassign' || message.row.target !== null,
                  },
                }
              : {}),
            ...(result.planned ? { planned: savedRowPlan(message.row, result.planned) } : {}),
          };
    if (replacing.has(`${message.jobId}#${message.line}`)) write.replacesGaveUp = true;
    // The drift report must know that a file declared this number even when the row changed nothing.
    if (message.mode === 'apply' && !write.ledger) write.declares = true;
    const list = writes.get(message.jobId) ?? [];
    list.push(write);
    writes.set(message.jobId, list);
    messageOf.set(`${message.jobId}#${message.line}`, record.messageId);
    // A gave-up row is recorded so the job can finish, and still goes to the DLQ for redrive.
    verdicts.set(record.messageId, result.status === 'retry' ? { status: 'retry', reason: result.reason } : { status: 'done' });
  }

  for (const [messageId, verdict] of await handOnDeferred(rt, handOn)) verdicts.set(messageId, verdict);

  // Attribute the batch's RingCX calls to its jobs in proportion to their rows.
  const totalRows = [...writes.values()].reduce((n, list) => n + list.length, 0) || 1;
  let callsLeft = callsUsed;
  const jobs = [...writes.entries()];
  for (const [index, [jobId, list]] of jobs.entries()) {
    const calls = index === jobs.length - 1 ? callsLeft : Math.round((callsUsed * list.length) / totalRows);
    callsLeft -= calls;
    const recorded = new Set(await rt.store.recordOutcomes(jobId, list, calls));
    for (const write of list) {
      if (!recorded.has(write.line)) {
        // Another delivery of this row recorded its outcome first: the row is final, so this
        // copy must not reach the DLQ as if it had failed.
        if (write.gaveUp) verdicts.set(messageOf.get(`${jobId}#${write.line}`) as string, { status: 'done' });
        continue;
      }
      metrics.addMetric(rowsMetricName(write.outcome), MetricUnit.Count, 1);
      const message = todo.find((t) => t.message.jobId === jobId && t.message.line === write.line)?.message;
      const result = results.get(messageOf.get(`${jobId}#${write.line}`) as string);
      if (message?.planned && result?.status === 'done' && WRITE_OUTCOMES.has(write.outcome)) await auditPlannedChange(rt, message, write, result);
      logger.info('row outcome', { jobId, line: write.line, dnis: write.dnis, outcome: write.outcome, detail: write.detail, mode: message?.mode, ...(message?.planned ? { planId: message.planned.planId } : {}) });
    }
  }
  for (const jobId of byJob.keys()) {
    try {
      await completeIfDone(rt, jobId);
    } catch (error) {
      // The rows are recorded; the sweeper finishes the job.
      logger.warn('job completion deferred to the sweeper', { jobId, error: describeFailure(error) });
    }
  }
  return verdicts;
}

interface Deferred {
  record: QueueRecord;
  message: RowMessage;
  reason: string;
}

/**
 * Rows the engine did not start before the deadline go back on the work queue as fresh messages
 * (the same row, one more deferral), and their delivery counts as done. Left as batch item
 * failures they would wait out a whole visibility timeout and spend a receive for work that was
 * never tried: a batch of costly rows needs several invocations, more than maxReceiveCount allows.
 * A row whose fresh copy could not be sent stays a batch item failure, so it is never lost; a copy
 * sent by a delivery that then dies is a duplicate, which the outcome record absorbs.
 */
async function handOnDeferred(rt: Dependencies, deferred: Deferred[]): Promise<Map<string, RecordVerdict>> {
  const verdicts = new Map<string, RecordVerdict>();
  const sent: Deferred[] = [];
  for (let i = 0; i < deferred.length; i += 10) {
    const chunk = deferred.slice(i, i + 10);
    let failedIds = new Set<string>();
    try {
      const answer = await rt.aws.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: rt.config.WORK_QUEUE_URL,
          Entries: chunk.map((d, index) => ({ Id: String(index), MessageBody: JSON.stringify({ ...d.message, deferrals: (d.message.deferrals ?? 0) + 1 }) })),
        }),
      );
      failedIds = new Set((answer.Failed ?? []).map((f) => f.Id ?? ''));
    } catch (error) {
      failedIds = new Set(chunk.map((_, index) => String(index)));
      logger.warn('deferred rows could not be handed on; they wait for redelivery', { rows: chunk.length, error: describeFailure(error) });
    }
    chunk.forEach((d, index) => {
      if (failedIds.has(String(index))) {
        verdicts.set(d.record.messageId, { status: 'retry', reason: d.reason });
      } else {
        sent.push(d);
        verdicts.set(d.record.messageId, { status: 'done' });
      }
    });
  }
  if (sent.length > 0) {
    logger.info('rows handed on for the next invocation', { rows: sent.length, reason: sent[0]?.reason });
    metrics.addMetric(METRIC_NAMES.rowsDeferred, MetricUnit.Count, sent.length);
  }
  // Their last-delivery marks no longer stand: the rows live on in the fresh messages.
  const marked = groupBy(
    sent.filter((d) => d.record.receiveCount >= rt.config.MAX_RECEIVE_COUNT),
    (d) => d.message.jobId,
  );
  for (const [jobId, items] of marked) {
    try {
      await rt.store.withdrawLastAttempts(jobId, items.map((d) => d.message.line));
    } catch (error) {
      // A sweep may then record such a row as gave-up early; its fresh copy replaces that outcome.
      logger.warn('last-delivery marks of handed-on rows not withdrawn', { jobId, error: describeFailure(error) });
    }
  }
  return verdicts;
}

function parseMessage(body: string): { ok: true; message: RowMessage } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const parsed = RowMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || 'body'}: ${issue?.message}` };
  }
  if (parsed.data.planned && !SnapshotSchema.safeParse(parsed.data.planned.state).success) return { ok: false, reason: 'planned.state: not a state snapshot' };
  return { ok: true, message: parsed.data };
}

function rowKeys(message: RowMessage, extra: Record<string, unknown> = {}) {
  return { jobId: message.jobId, line: message.line, dnis: message.row.dnis, ...extra };
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k) ?? [];
    list.push(item);
    groups.set(k, list);
  }
  return groups;
}
