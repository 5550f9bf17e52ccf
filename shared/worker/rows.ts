import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES, type RowMessage, rowsMetricName } from '../contracts';
import { logger, metrics } from '../observability/powertools';
import { withCallTally } from '../observability/ringcxCalls';
import { completeIfDone } from '../jobs/completion';
import type { OutcomeWrite } from '../store/jobStore';
import type { WorkerDependencies as Dependencies } from '../dependencies';
import { groupBy } from './groupBy';
import { type DeferredRow, handOnDeferred } from './handOn';
import type { QueueRecord, RecordVerdict } from '../lambda/sqsRecords';
import { describeFailure, type InvocationLimits } from './invocation';
import { mostDeferredFirst, parseRowMessage, type RowDelivery, rowKey, syncRequestFor, triageJobDeliveries } from './rowMessage';
import { attributeCalls, isAuditedPlannedChange, isLastDelivery, lastAttemptOf, settleRow } from './rowOutcome';
import type { SyncOptions, SyncRequest, SyncResult } from './sync/contract';
import { syncRows } from './sync/syncRows';


/**
 * A batch of row messages: drop the rows that already have an outcome (duplicate deliveries),
 * sync the rest against RingCX in one go, record each final outcome exactly once, and write the
 * job's reports when its last row lands.
 */
export async function syncRowMessages(rt: Dependencies, records: QueueRecord[], limits: InvocationLimits = {}): Promise<Map<string, RecordVerdict>> {
  const verdicts = new Map<string, RecordVerdict>();
  const deliveries: RowDelivery[] = [];
  for (const record of records) {
    const parsed = parseRowMessage(record.body);
    if (!parsed.ok) {
      // No job or line to report against: the message goes to the DLQ, where it is kept for a person.
      logger.error('unreadable work-queue message', { messageId: record.messageId, problem: parsed.reason });
      metrics.addMetric(METRIC_NAMES.unreadableMessages, MetricUnit.Count, 1);
      verdicts.set(record.messageId, { status: 'retry', reason: `unreadable message: ${parsed.reason}` });
      continue;
    }
    deliveries.push({ record, message: parsed.message });
  }

  // Rows already recorded are done, unless they were recorded as gave-up failures (a DLQ redrive).
  const byJob = groupBy(deliveries, (d) => d.message.jobId);
  const fresh: RowDelivery[] = [];
  const replacing = new Set<string>();
  for (const [jobId, items] of byJob) {
    const recorded = await rt.store.existingOutcomes(jobId, items.map((d) => d.message.line));
    for (const triage of triageJobDeliveries(items, recorded)) {
      const { record, message } = triage.delivery;
      if (triage.kind === 'already-recorded') logger.info('row already has an outcome; duplicate delivery ignored', rowKeys(message, { outcome: triage.outcome }));
      if (triage.kind !== 'sync') {
        verdicts.set(record.messageId, { status: 'done' });
        continue;
      }
      if (triage.replacesGaveUp) replacing.add(rowKey(message));
      fresh.push(triage.delivery);
    }
  }
  const toSync = mostDeferredFirst(fresh);

  // A row on its last allowed delivery is marked before the work: if this invocation dies (crash,
  // timeout), the sweeper finds the mark without an outcome and settles the row.
  const lastTries = groupBy(
    toSync.filter((d) => isLastDelivery(d.record, { maxReceiveCount: rt.config.MAX_RECEIVE_COUNT })),
    (d) => d.message.jobId,
  );
  for (const [jobId, items] of lastTries) await rt.store.recordLastAttempts(jobId, items.map((d) => lastAttemptOf(d, Date.now())));

  const { results, callsUsed } = await syncBatch(rt, toSync.map(syncRequestFor), limits);

  const writes = new Map<string, OutcomeWrite[]>();
  const deliveryOf = new Map<string, RowDelivery>();
  const handOn: DeferredRow[] = [];
  const deliveryLimits = { maxReceiveCount: rt.config.MAX_RECEIVE_COUNT, maxDeferrals: rt.config.MAX_DEFERRALS };
  for (const delivery of toSync) {
    const { record, message } = delivery;
    const settlement = settleRow(delivery, results.get(record.messageId) as SyncResult, deliveryLimits, replacing.has(rowKey(message)));
    if (settlement.kind === 'hand-on') {
      handOn.push({ ...delivery, reason: settlement.reason });
      continue;
    }
    if (settlement.kind === 'retry') {
      logger.warn('row will be retried', rowKeys(message, { reason: settlement.reason, receiveCount: record.receiveCount }));
      verdicts.set(record.messageId, { status: 'retry', reason: settlement.reason });
      continue;
    }
    const list = writes.get(message.jobId) ?? [];
    list.push(settlement.write);
    writes.set(message.jobId, list);
    deliveryOf.set(rowKey(message), delivery);
    verdicts.set(record.messageId, settlement.verdict);
  }

  for (const [messageId, verdict] of await handOnDeferred(rt, handOn)) verdicts.set(messageId, verdict);
  await recordOutcomes(rt, writes, { deliveryOf, results, callsUsed, verdicts });

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

/** The sync engine over the batch's rows, with the RingCX calls it made counted. */
async function syncBatch(rt: Dependencies, requests: SyncRequest[], limits: InvocationLimits): Promise<{ results: Map<string, SyncResult>; callsUsed: number }> {
  const engine: SyncOptions = {
    maxArray: rt.config.RINGCX_MAX_ARRAY,
    maxRows: 1_000,
    reassignMode: rt.config.RINGCX_REASSIGN_MODE,
    ...(limits.remainingMs ? { remainingMs: limits.remainingMs } : {}),
    intents: rt.intents,
  };
  try {
    const synced = await withCallTally(() => syncRows(rt.ringcx, requests, engine));
    synced.tally.publish();
    return { results: synced.result, callsUsed: synced.tally.total };
  } catch (error) {
    // Not a verdict on any row (credentials outage, configuration): every row is retried, and on its
    // last allowed receive recorded as gave-up, so the job still completes.
    logger.error('sync failed for the whole batch; rows will be retried', { error: describeFailure(error), rows: requests.length });
    const retry: SyncResult = { status: 'retry', reason: describeFailure(error) };
    return { results: new Map(requests.map((r) => [r.key, retry])), callsUsed: 0 };
  }
}

/** Records each job's final outcomes (with its share of the batch's RingCX calls), then audits and logs the ones that landed. */
async function recordOutcomes(
  rt: Dependencies,
  writes: Map<string, OutcomeWrite[]>,
  batch: { deliveryOf: Map<string, RowDelivery>; results: Map<string, SyncResult>; callsUsed: number; verdicts: Map<string, RecordVerdict> },
): Promise<void> {
  const calls = attributeCalls(batch.callsUsed, [...writes].map(([jobId, list]) => [jobId, list.length]));
  for (const [jobId, list] of writes) {
    const recorded = new Set(await rt.store.recordOutcomes(jobId, list, calls.get(jobId) ?? 0));
    for (const write of list) {
      const { record, message } = batch.deliveryOf.get(rowKey({ jobId, line: write.line })) as RowDelivery;
      if (!recorded.has(write.line)) {
        // Another delivery of this row recorded its outcome first: the row is final, so this
        // copy must not reach the DLQ as if it had failed.
        if (write.gaveUp) batch.verdicts.set(record.messageId, { status: 'done' });
        continue;
      }
      metrics.addMetric(rowsMetricName(write.outcome), MetricUnit.Count, 1);
      const result = batch.results.get(record.messageId);
      if (isAuditedPlannedChange(message, write, result)) await auditPlannedChange(rt, message, write, result);
      logger.info('row outcome', { jobId, line: write.line, dnis: write.dnis, outcome: write.outcome, detail: write.detail, mode: message.mode, ...(message.planned ? { planId: message.planned.planId } : {}) });
    }
  }
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

function rowKeys(message: RowMessage, extra: Record<string, unknown> = {}) {
  return { jobId: message.jobId, line: message.line, dnis: message.row.dnis, ...extra };
}
