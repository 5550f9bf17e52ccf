import type { EventPublisher } from '../aws/events';
import { logger } from '../observability/powertools';
import type { Dependencies } from '../dependencies';
import { savePlan } from './savePlan';
import { writeJobReports } from './reports';
import type { JobMeta } from '../store/jobStore';

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
  const job = await rt.store.tryStartReport(jobId);
  if (!job) return false;
  const event = await writeReportsHoldingEvent(rt, job);
  await rt.store.finishReport(jobId, job.outcomeVersion, event);
  logger.info('job completed', { jobId, outcomes: job.counts, apiCalls: job.apiCalls, version: job.outcomeVersion });
  await sendPendingEvent(rt, jobId);
  return true;
}

/** A file refused whole: its report says why, and its event is owed like any other. */
export async function reportRefusedFile(rt: Dependencies, jobId: string): Promise<void> {
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
