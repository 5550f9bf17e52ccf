import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { DETAIL_TYPES, METRIC_NAMES } from '../contracts';
import { logger, metrics } from '../observability/powertools';
import { describeFailure } from '../worker/invocation';
import { reparseJob } from '../parser/ingestObject';
import { resendOwedAnswer } from '../worker/reassign';
import type { SweeperDependencies as Dependencies } from '../dependencies';
import { completeIfDone, settleFinishedJob } from '../jobs/completion';
import type { JobMeta, OutcomeWrite } from '../store/jobStore';
import { deadDeliveryOutcomes } from './deadDeliveries';

export interface SweepResult {
  /** Rows whose last delivery died without an outcome, now recorded as gave-up failures. */
  settled: number;
  completed: string[];
  stalled: string[];
  reparsed: string[];
  /** Completion events and request answers that were owed and are now sent. */
  eventsSent: number;
  answersSent: number;
  /** Age of the oldest job that has not completed, in seconds (0 when there is none). */
  oldestOpenJobAgeSeconds: number;
  /** Skipped because another sweep holds the lease. */
  skipped?: true;
}

/**
 * How long an accepted row can take to get its outcome, counted from its first delivery: every
 * allowed receive may run into the visibility timeout, then the next sweep settles it.
 */
export function completionBoundMs(config: Dependencies['config']): number {
  return config.WORK_VISIBILITY_TIMEOUT_SECONDS * 1000 * config.MAX_RECEIVE_COUNT + config.SWEEP_INTERVAL_SECONDS * 1000;
}

/**
 * One pass over everything unfinished (the store's OPEN list, never a table scan):
 * - rows whose last allowed delivery died (crash, timeout) are settled as gave-up failures once
 *   that delivery's visibility timeout has passed, so their message can no longer come back;
 * - jobs whose rows have all landed are completed (reports, then the completion event);
 * - owed completion events and request answers are sent again;
 * - a parse that died is taken over and re-run, once its lease has run out;
 * - a job with no progress for longer than the completion bound is marked `stalled` and announced
 *   with "DNIS Import Stalled"; it still completes if its rows land later.
 */
export async function sweep(rt: Dependencies, options: { now?: () => number } = {}): Promise<SweepResult> {
  const now = options.now ?? Date.now;
  const result: SweepResult = { settled: 0, completed: [], stalled: [], reparsed: [], eventsSent: 0, answersSent: 0, oldestOpenJobAgeSeconds: 0 };
  const owner = randomUUID();
  // Two overlapping sweeps would only do the same work twice, but a re-parse is expensive.
  if (!(await rt.store.acquireLease('sweeper', owner, rt.config.PARSE_LEASE_SECONDS * 1000))) return { ...result, skipped: true };
  try {
    const open = await rt.store.openItems();
    for (const requestId of open.requests) {
      try {
        if (await resendOwedAnswer(rt, requestId)) result.answersSent += 1;
      } catch (error) {
        logger.error('owed answer not sent', { requestId, error: describeFailure(error) });
      }
    }
    const reparse: JobMeta[] = [];
    // Read once, and only when some job is open: whether any row message could still arrive.
    const queueEmpty = open.jobs.length > 0 ? await workQueueEmpty(rt) : false;
    for (const jobId of open.jobs) {
      try {
        const job = await sweepJob(rt, jobId, now(), result, queueEmpty);
        if (job) reparse.push(job);
      } catch (error) {
        logger.error('job could not be swept', { jobId, error: describeFailure(error) });
      }
    }
    // Last: a re-parse can take as long as the parser.
    for (const job of reparse) {
      try {
        logger.warn('parse died before finishing; parsing the file again', { jobId: job.jobId, key: job.source.key });
        const outcome = await reparseJob(rt, job);
        if (outcome.status !== 'duplicate') result.reparsed.push(job.jobId);
      } catch (error) {
        logger.error('re-parse failed; the next sweep tries again', { jobId: job.jobId, error: describeFailure(error) });
      }
    }
  } finally {
    await rt.store.releaseLease('sweeper', owner);
  }
  metrics.addMetric(METRIC_NAMES.oldestOpenJobAgeSeconds, MetricUnit.Seconds, result.oldestOpenJobAgeSeconds);
  metrics.addMetric(METRIC_NAMES.stalledJobs, MetricUnit.Count, result.stalled.length);
  metrics.addMetric(METRIC_NAMES.rowsSettledBySweeper, MetricUnit.Count, result.settled);
  logger.info('sweep done', { ...result });
  return result;
}

/** Returns the job when it needs a re-parse. */
async function sweepJob(rt: Dependencies, jobId: string, now: number, result: SweepResult, queueEmpty: boolean): Promise<JobMeta | undefined> {
  const job = await rt.store.getJob(jobId);
  if (!job) {
    await rt.store.forgetOpenJob(jobId);
    return undefined;
  }
  if (job.status === 'parsing' || job.status === 'running' || job.status === 'stalled') {
    result.oldestOpenJobAgeSeconds = Math.max(result.oldestOpenJobAgeSeconds, Math.round((now - Date.parse(job.startedAt)) / 1000));
  }
  if (job.status === 'parsing') return (job.leaseUntil ?? 0) < now ? job : undefined;

  if (job.status === 'running' || job.status === 'stalled') {
    if (job.processed < job.accepted) result.settled += await settleDeadDeliveries(rt, job, now);
    if (await completeIfDone(rt, jobId)) {
      result.completed.push(jobId);
      return undefined;
    }
    const fresh = (await rt.store.getJob(jobId)) ?? job;
    if (fresh.status === 'stalled') result.stalled.push(jobId);
    if (fresh.status !== 'running' || fresh.processed >= fresh.accepted) return undefined;
    const lastProgress = fresh.lastProgressAt ?? Date.parse(fresh.parsedAt ?? fresh.startedAt);
    const bound = completionBoundMs(rt.config);
    // A job waiting behind a big import is slow, not stalled: only when no row message is left to
    // deliver can its missing outcomes never come. (A slow job is what the job-age alarm is for.)
    if (queueEmpty && now - lastProgress > bound && (await rt.store.markStalled(jobId))) {
      result.stalled.push(jobId);
      await announceStall(rt, fresh, lastProgress, bound);
    }
    return undefined;
  }

  // Completed (a redrive may have added outcomes since its reports) or a refused file (its parser
  // may have died before its report; it stays on the list until its event is sent).
  const settled = await settleFinishedJob(rt, job);
  if (settled.reported) result.completed.push(jobId);
  if (settled.eventSent) result.eventsSent += 1;
  return undefined;
}

/** Settles the rows whose last delivery died (see deadDeliveryOutcomes); returns how many it recorded. */
async function settleDeadDeliveries(rt: Dependencies, job: JobMeta, now: number): Promise<number> {
  const attempts = [];
  for await (const attempt of rt.store.lastAttempts(job.jobId)) attempts.push(attempt);
  if (attempts.length === 0) return 0;
  const existing = await rt.store.existingOutcomes(job.jobId, attempts.map((a) => a.line));
  const writes = deadDeliveryOutcomes(attempts, existing, rt.config.WORK_VISIBILITY_TIMEOUT_SECONDS * 1000, now);
  if (writes.length === 0) return 0;
  const recorded = await rt.store.recordOutcomes(job.jobId, writes, 0);
  for (const line of recorded) logger.warn('row settled by the sweeper', { jobId: job.jobId, line, outcome: 'failed' });
  return recorded.length;
}

async function announceStall(rt: Dependencies, job: JobMeta, lastProgress: number, boundMs: number): Promise<void> {
  const detail = {
    jobId: job.jobId,
    source: job.source,
    status: 'stalled',
    accepted: job.accepted,
    processed: job.processed,
    outstanding: job.accepted - job.processed,
    lastProgressAt: new Date(lastProgress).toISOString(),
    boundSeconds: Math.round(boundMs / 1000),
    reason: `no row of this job got an outcome for longer than the completion bound (${Math.round(boundMs / 1000)} s); its remaining messages are missing or cannot be processed`,
  };
  logger.error('job stalled', detail);
  try {
    await rt.events.publish(DETAIL_TYPES.importStalled, detail);
  } catch (error) {
    // The job's status and the StalledJobs alarm still say so.
    logger.error('"DNIS Import Stalled" not accepted', { jobId: job.jobId, error: describeFailure(error) });
  }
}

/** No message on either row queue (work, bulk), visible or in flight: nothing more will reach the worker. */
async function workQueueEmpty(rt: Dependencies): Promise<boolean> {
  try {
    let messages = 0;
    for (const QueueUrl of [rt.config.WORK_QUEUE_URL, rt.config.BULK_QUEUE_URL]) {
      const { Attributes: attributes } = await rt.aws.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] }),
      );
      const count = (name: string) => Number(attributes?.[name as keyof typeof attributes] ?? 0);
      messages += count('ApproximateNumberOfMessages') + count('ApproximateNumberOfMessagesNotVisible') + count('ApproximateNumberOfMessagesDelayed');
    }
    return messages === 0;
  } catch (error) {
    // Unknown: call nothing stalled this time; the job-age alarm still watches.
    logger.warn('work queue depth unknown', { error: describeFailure(error) });
    return false;
  }
}
