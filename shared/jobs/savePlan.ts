import { type PlannedRow, type SavedPlan } from '../domain/savedPlan';
import { uploadLines } from '../aws/s3Text';
import { logger } from '../observability/powertools';
import type { JobMeta } from '../store/jobStore';
import type { Dependencies } from '../dependencies';

/** One plan per plan run, named after its job, so a rewritten report rewrites the same plan. */
export const planIdOf = (jobId: string) => `plan-${jobId}`;
export const planKeyOf = (job: Pick<JobMeta, 'resultsPrefix'>) => `${job.resultsPrefix}/plan.json`;

/**
 * Writes a finished plan run's `plan.json` beside its reports, and the PLAN#<id> record an approval
 * finds it by. Rows the plan could not decide (rejected, or failed to read) are not in it: an apply
 * only ever does what a reviewer could read. Returns the plan id, or undefined for a refused file.
 */
export async function savePlan(rt: Dependencies, job: JobMeta): Promise<string | undefined> {
  if (job.mode !== 'plan' || job.status === 'failed') return undefined;
  const planId = planIdOf(job.jobId);
  // Stable across rewrites of the same run: the plan was made when its rows were read.
  const createdAt = job.parsedAt ?? job.startedAt;
  const expiresAt = new Date(Date.parse(createdAt) + rt.config.PLAN_TTL_HOURS * 3_600_000).toISOString();
  const head: Omit<SavedPlan, 'rows'> = {
    v: 1,
    planId,
    createdAt,
    expiresAt,
    source: { bucket: job.source.bucket, key: job.source.key, versionId: job.source.versionId ?? null, sha256: job.sha256 ?? '' },
    jobId: job.jobId,
    header: job.header ?? [],
  };
  const store = rt.store;
  // Streamed: a 250,000-row plan is never held whole.
  async function* body() {
    const opening = JSON.stringify({ ...head, rows: [] });
    yield `${opening.slice(0, -2)}\n`;
    let first = true;
    for await (const row of store.rows(job.jobId)) {
      if (!row.planned) continue;
      const planned: PlannedRow = {
        line: row.line,
        row: row.planned.row,
        outcome: row.outcome,
        detail: row.detail,
        actions: row.planned.actions,
        state: row.planned.state,
        fingerprint: row.planned.fingerprint,
        raw: row.raw,
      };
      yield `${first ? '' : ',\n'}${JSON.stringify(planned)}`;
      first = false;
    }
    yield '\n]}\n';
  }
  const planKey = planKeyOf(job);
  await uploadLines(rt.aws.s3, { bucket: rt.config.BUCKET_NAME, key: planKey, contentType: 'application/json' }, body());
  await store.putPlanRecord({ planId, planKey, planJobId: job.jobId, createdAt, expiresAt });
  await store.describeJob(job.jobId, { planId });
  logger.info('plan saved', { planId, planKey, expiresAt });
  return planId;
}
