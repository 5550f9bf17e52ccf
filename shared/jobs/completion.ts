import type { EventPublisher } from '../aws/events';
import { logger } from '../observability/powertools';
import type { Dependencies } from '../dependencies';
import { savePlan } from './savePlan';
import { writeJobReports } from './reports';
import type { JobMeta } from '../store/jobStore';

/*
 * The one place a job is finished. Completing a job is always, in this order: win the report
 * lease (tryStartReport), write the reports (and a plan run's plan), record `completed` with the
 * completion event owed (finishReport), send the event, take the job off the sweeper's list. A
 * refused file is `failed` first, then the same: reports, event owed, event sent, off the list.
 * Parser, worker and sweeper only call the functions below.
 */

type HeldEvent = { detailType: string; detail: Record<string, unknown> };

/** Writes a job's three reports, keeping the event they announce instead of sending it. */
async function writeReportsHoldingEvent(rt: Dependencies, job: JobMeta): Promise<HeldEvent | undefined> {
  const held: HeldEvent[] = [];
  const holding: EventPublisher = {
    async publish(detailType, detail) {
      held.push({ detailType, detail });
    },
  };
  // A plan run's plan.json comes first, so its report can name the plan.
  const planId = await savePlan(rt, job);
  await writeJobReports({ s3: rt.aws.s3, store: rt.store, events: holding, bucket: rt.config.BUCKET_NAME }, planId ? { ...job, planId } : job);
  return held[0];
}

/**
 * Completes a job whose last row has landed, if this caller wins the report lease: reports first,
 * then `completed` with the completion event recorded as owed, then the event. A refused event
 * leaves the job completed and the event pending; the sweeper sends it later. Returns whether
 * this caller wrote the reports.
 */
export async function completeIfDone(rt: Dependencies, jobId: string): Promise<boolean> {
  const job = await rt.store.tryStartReport(jobId, rt.config.REPORT_LEASE_SECONDS * 1000);
  if (!job) return false;
  const event = await writeReportsHoldingEvent(rt, job);
  await rt.store.finishReport(jobId, job.outcomeVersion, event);
  logger.info('job completed', { jobId, outcomes: job.counts, apiCalls: job.apiCalls, version: job.outcomeVersion });
  await sendPendingEvent(rt, jobId);
  return true;
}

/** Refuses a file whole: the job fails with the reason, and is reported like any other. */
export async function refuseFile(rt: Dependencies, jobId: string, reason: string, header: string[] | undefined): Promise<void> {
  await rt.store.failJob(jobId, reason, header);
  await reportRefusedFile(rt, jobId);
}

/** A file refused whole: its report says why, and its event is owed like any other. */
async function reportRefusedFile(rt: Dependencies, jobId: string): Promise<void> {
  const job = await rt.store.getJob(jobId);
  if (!job) return;
  const event = await writeReportsHoldingEvent(rt, job);
  if (event) await rt.store.setPendingEvent(jobId, event);
  await sendPendingEvent(rt, jobId);
}

/**
 * Sends the job's owed event, if any, and takes the job off the sweeper's list once nothing is
 * left to do. Never throws for a refused event: it stays owed. Returns whether nothing is owed now.
 */
export async function sendPendingEvent(rt: Dependencies, jobId: string): Promise<boolean> {
  const job = await rt.store.getJob(jobId);
  if (!job) return true;
  const pending = job.pendingEvent;
  if (pending) {
    try {
      await rt.events.publish(pending.detailType, pending.detail);
    } catch (error) {
      logger.warn('event not accepted; it stays owed and the sweeper sends it again', { jobId, detailType: pending.detailType, error: (error as Error).message });
      return false;
    }
    await rt.store.clearPendingEvent(jobId, pending.version);
  }
  await rt.store.closeJobIfSettled(jobId);
  return true;
}

/**
 * What a finished job (completed, or its file refused) may still owe, done again by the sweeper:
 * the reports of a refused file whose parser died before writing them, reports a redrive made
 * stale, the completion event. Returns whether it rewrote a completed job's reports, and whether
 * it sent an event that was owed.
 */
export async function settleFinishedJob(rt: Dependencies, job: JobMeta): Promise<{ reported: boolean; eventSent: boolean }> {
  // Rewriting is harmless: the same three objects.
  if (job.status === 'failed' && !job.pendingEvent) {
    await reportRefusedFile(rt, job.jobId);
    return { reported: false, eventSent: false };
  }
  const reported = job.status === 'completed' && job.outcomeVersion > job.reportedVersion && (await completeIfDone(rt, job.jobId));
  const owed = (await rt.store.getJob(job.jobId))?.pendingEvent !== undefined;
  const eventSent = (await sendPendingEvent(rt, job.jobId)) && owed;
  return { reported, eventSent };
}

/**
 * Whether a job is over as its uploader sees it: refused, or completed with reports that describe
 * every outcome recorded so far (a redrive that adds outcomes makes it unfinished until rewritten).
 */
export function hasFinished(job: JobMeta): boolean {
  return job.status === 'failed' || (job.status === 'completed' && job.reportedVersion >= job.outcomeVersion);
}
