import { randomUUID } from 'node:crypto';
import { csvLine } from '../csv/writer';
import { emptyDriftCounts } from '../domain/drift';
import { logger } from '../observability/powertools';
import { withCallTally } from '../observability/ringcxCalls';
import type { Dependencies } from '../dependencies';
import { DynamoTable } from '../store/dynamo';
import { type ExportCheckpoint, ExportCheckpoints } from '../store/exportCheckpoints';
import { type CarriedState, ExportedNumbers, loadCarriedState, saveCarriedState } from './carriedState';
import type { ContinuationSender } from './continuation';
import { EXPORT_HEADER } from './csvLines';
import { DRIFT_CONTENT_TYPE, DRIFT_HEADER_LINE, DriftReport } from './driftReport';
import { addDeclaredButMissing, type PageProgress, readPages, trackingGroupsOf } from './exportPages';
import { type ExportManifest, finishExport } from './finalStep';
import { PartUpload } from './partUpload';

export type { ExportManifest } from './finalStep';

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
 * part (carriedState.ts). The invocation that reads the last page completes the files and writes
 * the manifest, in a way safe to repeat after a crash (finalStep.ts).
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
    // An earlier attempt of this last step recorded its final counts and may have completed the
    // files: finish those, with nothing read again (finalStep.ts).
    if (claimed.finalStatus) return { run, next: claimed.finalStatus };
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
  if (status === 'incomplete' && !claimed.finalStatus) logger.error('export stopped before the function timeout with no exports queue to continue on; the manifest marks it incomplete', { page: run.nextPage, numbers: run.numbers });
  const manifest = await finishExport(rt, { checkpoints, claimed, claimId, run, status, progress, remainingMs: options.remainingMs });
  if (manifest) return manifest;
  logger.warn('export not completed by this invocation: its claim was taken over before it recorded the final counts', { exportId: claimed.exportId, step: claimed.step });
  return { exportId: claimed.exportId, status: 'skipped', reason: `another invocation took over step ${claimed.step}` };
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
