import { randomUUID } from 'node:crypto';
import { DETAIL_TYPES } from '../contracts';
import { csvLine } from '../csv/writer';
import { actionableDrift, type DriftKind, emptyDriftCounts } from '../domain/drift';
import { logger } from '../observability/powertools';
import { withCallTally } from '../observability/ringcxCalls';
import { uploadLines } from '../aws/s3Text';
import type { Dependencies } from '../dependencies';
import { DynamoTable } from '../store/dynamo';
import { type ExportCheckpoint, ExportCheckpoints } from '../store/exportCheckpoints';
import { type CarriedState, ExportedNumbers, loadCarriedState, saveCarriedState } from './carriedState';
import type { ContinuationSender } from './continuation';
import { EXPORT_HEADER } from './csvLines';
import { DRIFT_CONTENT_TYPE, DRIFT_HEADER_LINE, DriftReport } from './driftReport';
import { addDeclaredButMissing, type PageProgress, readPages, trackingGroupsOf } from './exportPages';
import { PartUpload, sha256OfObject } from './partUpload';

export interface ExportOptions {
  /** The accounts a new export covers (asked only when one starts; a continuation has them in its checkpoint). */
  accountIds: () => Promise<string[]>;
  pageSize: number;
  /** Time left in the invocation: the export saves where it is rather than being killed. */
  remainingMs: () => number;
  /** Below this much remaining time no further page is started: room to save the checkpoint and send the continuation. */
  safetyMs: number;
  now?: Date;
  /** This invocation's claim on the step it works on (the Lambda request id). */
  invocationId?: string;
  /** Where the next invocation is asked for. Without it an export that runs out of time ends `incomplete`. */
  continuation?: ContinuationSender | undefined;
}

/** A scheduled or on-demand start (a schedule tick names its time, so a retry of it is the same export), or a continuation. */
export type ExportTrigger = { kind: 'start'; scheduledTime?: string | undefined } | { kind: 'continue'; exportId: string; step: number };

export interface ExportManifest {
  exportId: string;
  status: 'complete' | 'incomplete';
  /** How the run fitted its time limit: in one invocation, continued over several, or stopped early. */
  completion: string;
  /**
   * Invocations the export took: the first, plus one per continuation from the exports queue. A
   * step's attempts that died before committing (and redeliveries found duplicate) are not counted,
   * nor are their RingCX calls in `apiCalls`.
   */
  invocations: number;
  startedAt: string;
  completedAt: string;
  /** From the first invocation's start to the manifest, waits between invocations included. */
  durationMs: number;
  accounts: string[];
  pageSize: number;
  pages: number;
  numbers: number;
  assigned: number;
  apiCalls: number;
  apiCallsByEndpoint: Record<string, number>;
  /** Time the last invocation had left when it wrote the manifest. */
  headroomMs: number;
  /**
   * The sha256 of the export file exactly as stored in S3, computed by reading the completed object
   * back: a hash cannot be carried from one invocation to the next, and a hash over parts would
   * not match `sha256sum` of the downloaded file.
   */
  checksum: { algorithm: 'sha256'; value: string };
  files: { export: string; drift: string; manifest: string };
  drift: Record<DriftKind, number>;
}

/** An invocation that did its share and asked for the next. */
export interface ExportContinuing {
  exportId: string;
  status: 'continuing';
  /** The step the continuation will run (the invocations so far). */
  step: number;
  numbers: number;
  pages: number;
  files: ExportManifest['files'];
}

/** `skipped`: nothing to do (a duplicate delivery, another export running); `retry`: come back later. */
export interface ExportNotRun {
  exportId: string;
  status: 'skipped' | 'retry';
  reason: string;
}

export type ExportStepResult = ExportManifest | ExportContinuing | ExportNotRun;

const EXPORT_CONTENT_TYPE = 'text/csv; charset=utf-8';
/** How long a continuation that arrived before its step was committed waits for the commit before going back on the queue. */
const AHEAD_WAIT_MS = 5_000;

/**
 * Exports every number with its current routing, page by page, into an S3 multipart upload (see
 * csvLines.ts for the file), and writes a drift report against the desired-state ledger (the rules
 * are shared/domain/drift.ts). An export longer than one invocation continues in the next: the
 * checkpoint (shared/store/exportCheckpoints.ts) holds the page to read next, the counts and the
 * uploads' committed parts; an S3 object holds the exported numbers and the text buffered below a
 * part (carriedState.ts). The invocation that reads the last page writes the manifest.
 */
export async function exportInventory(rt: Dependencies, options: ExportOptions, trigger: ExportTrigger = { kind: 'start' }): Promise<ExportStepResult> {
  const checkpoints = new ExportCheckpoints(new DynamoTable(rt.aws.dynamo, rt.config.TABLE_NAME), { retentionDays: rt.config.JOB_RETENTION_DAYS });
  const claimId = options.invocationId ?? randomUUID();
  const claimUntil = () => Date.now() + options.remainingMs();
  const bucket = rt.config.BUCKET_NAME;

  const claimStep = async (exportId: string, step: number): Promise<ExportCheckpoint | ExportNotRun> => {
    const waitUntil = Date.now() + AHEAD_WAIT_MS;
    for (;;) {
      const claim = await checkpoints.claimExportStep(exportId, step, claimId, claimUntil());
      if (claim.status === 'claimed') return claim.checkpoint;
      if (claim.status === 'ahead' && Date.now() < waitUntil) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        continue;
      }
      const reasons = {
        stale: `step ${step} is done already (a repeated delivery)`,
        missing: 'no such export',
        ahead: `step ${step - 1} is not committed yet`,
        held: `another invocation works on step ${step}`,
      } as const;
      return { exportId, status: claim.status === 'stale' || claim.status === 'missing' ? 'skipped' : 'retry', reason: reasons[claim.status] };
    }
  };

  let checkpoint: ExportCheckpoint | ExportNotRun;
  if (trigger.kind === 'continue') checkpoint = await claimStep(trigger.exportId, trigger.step);
  else {
    const begun = await beginExport(rt, checkpoints, options, trigger.scheduledTime, { claimId, claimUntil: claimUntil() });
    // A retried tick resumes its export where the last commit left it; a new one claims its first step (its own claim already).
    if ('reason' in begun) checkpoint = begun;
    else checkpoint = await claimStep(begun.exportId, begun.status === 'begun' ? 0 : ((await checkpoints.getExportCheckpoint(begun.exportId))?.step ?? 0));
  }
  if ('reason' in checkpoint) {
    logger.info('export step not run', { exportId: checkpoint.exportId, status: checkpoint.status, reason: checkpoint.reason });
    return checkpoint;
  }
  const claimed = checkpoint;
  const carried = claimed.stateKey ? await loadCarriedState(rt.aws.s3, bucket, claimed.stateKey) : undefined;

  const { result, tally } = await withCallTally(async () => {
    const run = await openRun(rt, claimed, carried);
    const allRead = await readPages(rt, run, options);
    const timeForTheEnd = options.remainingMs() >= options.safetyMs;
    if (options.continuation && !(allRead && timeForTheEnd)) return { run, next: 'continue' as const };
    if (allRead) await addDeclaredButMissing(rt, run);
    return { run, next: allRead ? ('complete' as const) : ('incomplete' as const) };
  });
  const { run } = result;
  const apiCalls = claimed.apiCalls + tally.total;
  const apiCallsByEndpoint = { ...claimed.apiCallsByEndpoint };
  for (const [key, count] of tally.byEndpoint) apiCallsByEndpoint[key] = (apiCallsByEndpoint[key] ?? 0) + count;
  const progress = {
    nextPage: run.nextPage,
    pagesDone: run.pagesDone,
    numbers: run.numbers,
    assigned: run.assigned,
    pages: run.pages,
    apiCalls,
    apiCallsByEndpoint,
    drift: run.drift.counts,
    slowestPageMs: Math.round(run.slowestPageMs),
    exportUpload: run.exportFile.state,
    driftUpload: run.drift.state,
  };

  if (result.next === 'continue' && options.continuation) {
    const step = claimed.step + 1;
    const stateKey = `exports/checkpoints/${claimed.exportId}/step-${step}-${claimId}.bin`;
    await saveCarriedState(rt.aws.s3, bucket, stateKey, { exported: run.exported, tracking: run.tracking, exportTail: run.exportFile.tail, driftTail: run.drift.tail });
    // Sent before the commit: a continuation that arrives first waits for it (`ahead`), while one
    // never sent after a commit would leave the export stranded.
    await options.continuation.send({ kind: 'export-continuation', exportId: claimed.exportId, step });
    if (!(await checkpoints.commitExportStep(claimed.exportId, claimed.step, claimId, { ...progress, stateKey }))) {
      logger.warn('export step not committed: its claim was taken over', { exportId: claimed.exportId, step: claimed.step });
    }
    logger.info('export continues in a new invocation', { exportId: claimed.exportId, step, numbers: run.numbers, pages: run.pages });
    return { exportId: claimed.exportId, status: 'continuing', step, numbers: run.numbers, pages: run.pages, files: claimed.files };
  }

  const status = result.next === 'complete' ? 'complete' : 'incomplete';
  if (status === 'incomplete') logger.error('export stopped before the function timeout with no exports queue to continue on; the manifest marks it incomplete', { page: run.nextPage, numbers: run.numbers });
  await run.exportFile.complete();
  await run.drift.finish();
  const invocations = claimed.step + 1;
  const completedAt = new Date();
  const manifest: ExportManifest = {
    exportId: claimed.exportId,
    status,
    completion:
      status === 'incomplete'
        ? 'stopped early to stay inside the function timeout; rerun on demand or raise the page size'
        : invocations === 1
          ? 'single invocation: every page fit inside the function timeout with the headroom below'
          : `${invocations} invocations, each continuing from the checkpoint the one before saved`,
    invocations,
    startedAt: claimed.startedAt,
    completedAt: completedAt.toISOString(),
    durationMs: completedAt.getTime() - Date.parse(claimed.startedAt),
    accounts: claimed.accountIds,
    pageSize: claimed.pageSize,
    pages: run.pages,
    numbers: run.numbers,
    assigned: run.assigned,
    apiCalls,
    apiCallsByEndpoint,
    headroomMs: Math.max(0, Math.round(options.remainingMs())),
    checksum: { algorithm: 'sha256', value: await sha256OfObject(rt.aws.s3, bucket, claimed.files.export) },
    files: claimed.files,
    drift: run.drift.counts,
  };
  await uploadLines(rt.aws.s3, { bucket, key: claimed.files.manifest, contentType: 'application/json' }, [`${JSON.stringify(manifest, null, 2)}\n`]);
  await rt.events.publish(actionableDrift(run.drift.counts) > 0 ? DETAIL_TYPES.driftDetected : DETAIL_TYPES.exportCompleted, {
    exportId: manifest.exportId,
    status,
    numbers: manifest.numbers,
    drift: manifest.drift,
    files: manifest.files,
  });
  if (status === 'incomplete') await rt.events.publish(DETAIL_TYPES.exportIncomplete, { exportId: manifest.exportId, numbers: manifest.numbers, pages: manifest.pages, files: manifest.files });
  if (!(await checkpoints.commitExportStep(claimed.exportId, claimed.step, claimId, progress, true))) {
    logger.warn('export completed but its claim was taken over meanwhile', { exportId: claimed.exportId, step: claimed.step });
  }
  return manifest;
}

/** Records a new export with its two uploads; `exists` when this schedule tick's export was begun before. */
async function beginExport(
  rt: Dependencies,
  checkpoints: ExportCheckpoints,
  options: ExportOptions,
  scheduledTime: string | undefined,
  claim: { claimId: string; claimUntil: number },
): Promise<ExportNotRun | { status: 'begun' | 'exists'; exportId: string }> {
  const started = options.now ?? new Date();
  const tick = scheduledTime && !Number.isNaN(Date.parse(scheduledTime)) ? new Date(scheduledTime) : started;
  const exportId = tick.toISOString().replace(/[:.]/g, '-');
  const existing = await checkpoints.getExportCheckpoint(exportId);
  if (existing) return { status: 'exists', exportId };
  const files = filesOf(tick, exportId);
  const bucket = rt.config.BUCKET_NAME;
  const exportFile = await PartUpload.begin(rt.aws.s3, { bucket, key: files.export, contentType: EXPORT_CONTENT_TYPE });
  const drift = await PartUpload.begin(rt.aws.s3, { bucket, key: files.drift, contentType: DRIFT_CONTENT_TYPE });
  const begun = await checkpoints.beginExport({
    exportId,
    status: 'running',
    step: 0,
    startedAt: started.toISOString(),
    accountIds: await options.accountIds(),
    pageSize: options.pageSize,
    files,
    nextPage: 0,
    pagesDone: false,
    numbers: 0,
    assigned: 0,
    pages: 0,
    apiCalls: 0,
    apiCallsByEndpoint: {},
    drift: emptyDriftCounts(),
    slowestPageMs: 0,
    exportUpload: exportFile.state,
    driftUpload: drift.state,
    ...claim,
  });
  if (begun.status === 'busy') return { exportId, status: 'skipped', reason: `export ${begun.activeExportId} is still running` };
  return { status: begun.status, exportId };
}

/** The page reader's state as the checkpoint left it; a first step starts both files with their headers. */
async function openRun(rt: Dependencies, checkpoint: ExportCheckpoint, carried: CarriedState | undefined): Promise<PageProgress> {
  const target = (key: string) => ({ bucket: rt.config.BUCKET_NAME, key });
  return {
    accountIds: checkpoint.accountIds,
    pageSize: checkpoint.pageSize,
    nextPage: checkpoint.nextPage,
    pagesDone: checkpoint.pagesDone,
    pages: checkpoint.pages,
    numbers: checkpoint.numbers,
    assigned: checkpoint.assigned,
    slowestPageMs: checkpoint.slowestPageMs,
    exported: carried?.exported ?? new ExportedNumbers(),
    tracking: carried?.tracking ?? (await trackingGroupsOf(rt, checkpoint.accountIds)),
    exportFile: PartUpload.resume(rt.aws.s3, { ...target(checkpoint.files.export), contentType: EXPORT_CONTENT_TYPE }, checkpoint.exportUpload, carried?.exportTail ?? Buffer.from(csvLine(EXPORT_HEADER))),
    drift: DriftReport.open(rt.aws.s3, target(checkpoint.files.drift), checkpoint.driftUpload, carried?.driftTail ?? Buffer.from(DRIFT_HEADER_LINE), checkpoint.drift),
  };
}

function filesOf(tick: Date, stamp: string): ExportManifest['files'] {
  const [year, month, day] = tick.toISOString().slice(0, 10).split('-');
  const base = `exports/${year}/${month}/${day}`;
  return { export: `${base}/assignments-${stamp}.csv`, drift: `${base}/drift-${stamp}.csv`, manifest: `${base}/manifest-${stamp}.json` };
}
