import { GetObjectCommand } from '@aws-sdk/client-s3';
import { encodeMessageBody, type RowMessage, rowCostClass } from '../contracts';
import { describeTarget, type Outcome } from '../domain/desiredRow';
import { type Approval, ApprovalSchema, NOTHING_TO_DO, planExpired, type SavedPlan, SavedPlanSchema } from '../domain/savedPlan';
import { logger } from '../observability/powertools';
import { RowQueueSender } from './rowQueues';
import { type IngestResult, jobIdFor, type ObjectRef, safeRelativePath } from './uploadedObject';
import { completeIfDone, refuseFile } from '../jobs/completion';
import type { PlanRecord, RowOutcome } from '../store/jobStore';
import type { ParserDependencies as Dependencies } from '../dependencies';

export const APPROVAL_PREFIX = 'approved/';
/** An approval is three short fields; anything much larger is not one, and is not read. */
const MAX_APPROVAL_BYTES = 16 * 1024;

/** An approval that cannot start an apply, with the reason its report gives. */
class Refusal extends Error {}

/**
 * `approved/<planId>.json` was put: apply that saved plan, once. The approval becomes a job of its
 * own (its reports sit beside the plan's, and name the plan); a refused approval (unreadable,
 * unknown or expired plan, plan already applied) is a job whose report says why, with nothing sent
 * to RingCX. Rows the plan left alone are recorded at once; the others go to the workers with the
 * state they were planned against, and are applied only where RingCX still matches it.
 */
export async function applyApprovedPlan(rt: Dependencies, ref: ObjectRef): Promise<IngestResult> {
  const jobId = jobIdFor(ref);
  const named = ref.key.slice(APPROVAL_PREFIX.length).replace(/\.json$/i, '');
  const approval = await readApproval(rt, ref, named).catch((error: unknown) => {
    if (error instanceof Refusal) return error;
    throw error;
  });
  const record = approval instanceof Refusal ? undefined : await rt.store.getPlanRecord(approval.planId);
  // Beside the plan's own reports when the plan is known, so plan and apply are read together.
  const resultsPrefix = record ? `${record.planKey.split('/').slice(0, -2).join('/')}/${jobId}` : `results/approved/${safeRelativePath(named)}/${jobId}`;
  const source = { bucket: ref.bucket, key: ref.key, versionId: ref.versionId, etag: ref.etag };
  const claim = await rt.store.claimJob({ jobId, mode: 'apply', source, resultsPrefix }, rt.config.PARSE_LEASE_SECONDS * 1000);
  if (claim === 'duplicate') return { status: 'duplicate', jobId };
  try {
    if (approval instanceof Refusal) return await refuse(rt, jobId, approval.message);
    await rt.store.describeJob(jobId, { planId: approval.planId, approval: { approvedBy: approval.approvedBy, reason: approval.reason } });
    const plan = await loadPlan(rt, approval.planId, record);
    if (planExpired(plan, new Date())) throw new Refusal(`plan ${plan.planId} expired at ${plan.expiresAt}; plan again`);
    const claimed = await rt.store.claimPlanApply(approval.planId, jobId, {
      approvedBy: approval.approvedBy,
      reason: approval.reason,
      key: ref.key,
      versionId: ref.versionId,
      at: new Date().toISOString(),
    });
    if (claimed.status === 'applied') {
      const by = claimed.approval ? ` (approved by ${claimed.approval.approvedBy})` : '';
      throw new Refusal(`plan ${approval.planId} was already applied by job ${claimed.jobId}${by}; nothing done`);
    }
    logger.info('plan approved; applying', { planId: plan.planId, jobId, approvedBy: approval.approvedBy, rows: plan.rows.length });
    return await sendPlannedRows(rt, jobId, plan, approval);
  } catch (error) {
    if (error instanceof Refusal) return await refuse(rt, jobId, error.message);
    await rt.store.releaseJob(jobId);
    throw error;
  }
}

async function readApproval(rt: Dependencies, ref: ObjectRef, named: string): Promise<Approval> {
  if (ref.size !== undefined && ref.size > MAX_APPROVAL_BYTES) throw new Refusal(`the approval is ${ref.size} bytes; an approval is {"planId", "approvedBy", "reason"} in at most ${MAX_APPROVAL_BYTES} bytes`);
  const text = await readText(rt, ref.bucket, ref.key, ref.versionId);
  if (text === undefined) throw new Refusal('the approval object no longer exists');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Refusal('the approval is not JSON; expected {"planId", "approvedBy", "reason"}');
  }
  const parsed = ApprovalSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Refusal(`the approval is not valid: ${issue?.path.join('.') || 'approval'}: ${issue?.message}`);
  }
  if (parsed.data.planId !== named) throw new Refusal(`the approval names ${parsed.data.planId} but is stored as ${ref.key}; the key must be approved/<planId>.json`);
  return parsed.data;
}

async function loadPlan(rt: Dependencies, planId: string, record: PlanRecord | undefined): Promise<SavedPlan> {
  if (!record) throw new Refusal(`unknown plan id ${planId}: no plan run saved it (or it is past retention)`);
  const text = await readText(rt, rt.config.BUCKET_NAME, record.planKey);
  if (text === undefined) throw new Refusal(`plan ${planId} is missing from ${record.planKey}`);
  const parsed = SavedPlanSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Refusal(`plan ${planId} at ${record.planKey} is not a valid plan: ${parsed.error.issues[0]?.message}`);
  // The record's expiry and id are the ones this stack wrote; an edited plan.json cannot extend them.
  if (parsed.data.planId !== planId) throw new Refusal(`${record.planKey} holds plan ${parsed.data.planId}, not ${planId}`);
  return { ...parsed.data, expiresAt: record.expiresAt };
}

async function sendPlannedRows(rt: Dependencies, jobId: string, plan: SavedPlan, approval: Approval): Promise<IngestResult> {
  const started = performance.now();
  const sender = new RowQueueSender(rt);
  const untouched: RowOutcome[] = [];
  const settled: Partial<Record<Outcome, number>> = {};
  let sent = 0;
  for (const row of plan.rows) {
    if (NOTHING_TO_DO.has(row.outcome)) {
      untouched.push({ line: row.line, dnis: row.row.dnis, outcome: row.outcome, detail: `planned as ${row.outcome}; left as it is (${row.detail})`, target: describeTarget(row.row.target), raw: row.raw ?? [] });
      settled[row.outcome] = (settled[row.outcome] ?? 0) + 1;
      continue;
    }
    const message: RowMessage = {
      v: 1,
      kind: 'row',
      jobId,
      line: row.line,
      mode: 'apply',
      row: row.row,
      raw: row.raw ?? [],
      planned: { planId: plan.planId, state: row.state, fingerprint: row.fingerprint, actions: row.actions, approvedBy: approval.approvedBy, reason: approval.reason },
    };
    await sender.send(rowCostClass(message), encodeMessageBody(message));
    sent += 1;
  }
  await sender.flush();
  // Recorded without a worker: these rows make no RingCX call.
  for (let i = 0; i < untouched.length; i += 100) await rt.store.putRejected(jobId, untouched.slice(i, i + 100));
  await rt.store.finishParsing(jobId, { total: plan.rows.length, accepted: sent, rejected: 0, header: plan.header ?? [], ignoredColumns: [], settled });
  const sendMs = Math.round(performance.now() - started);
  logger.info('plan rows sent', { jobId, planId: plan.planId, sent, untouched: untouched.length, sendMs });
  await completeIfDone(rt, jobId);
  return { status: 'accepted', jobId, total: plan.rows.length, accepted: sent, rejected: 0, timings: { validateMs: 0, sendMs } };
}

async function refuse(rt: Dependencies, jobId: string, reason: string): Promise<IngestResult> {
  logger.warn('approval refused', { jobId, reason });
  await refuseFile(rt, jobId, reason, []);
  return { status: 'failed', jobId, reason };
}

async function readText(rt: Dependencies, bucket: string, key: string, versionId?: string): Promise<string | undefined> {
  try {
    const object = await rt.aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) }));
    return (await object.Body?.transformToString('utf-8')) ?? '';
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'NoSuchKey' || name === 'NoSuchVersion') return undefined;
    throw error;
  }
}
