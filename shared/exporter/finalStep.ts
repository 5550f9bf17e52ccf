import { DETAIL_TYPES } from '../contracts';
import { actionableDrift, type DriftKind } from '../domain/drift';
import { logger } from '../observability/powertools';
import { uploadLines } from '../aws/s3Text';
import type { Dependencies } from '../dependencies';
import type { CheckpointProgress, ExportCheckpoint, ExportCheckpoints } from '../store/exportCheckpoints';
import { ExportedNumbers, saveCarriedState } from './carriedState';
import type { PageProgress } from './exportPages';
import { sha256OfObject } from './partUpload';

export interface ExportManifest {
  exportId: string;
  status: 'complete' | 'incomplete';
  /** How the run fitted its time limit: in one invocation, continued over several, or stopped early. */
  completion: string;
  /**
   * Invocations the export took: the first, plus one per continuation from the exports queue. A
   * step's attempts that died before committing (and redeliveries found duplicate) are not counted,
   * nor are their RingCX calls in `apiCalls`; but the last step's calls are counted once it
   * recorded its final counts, even if the attempt that made them died before the manifest.
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


export interface FinalStep {
  checkpoints: ExportCheckpoints;
  /** The checkpoint as this invocation claimed it: with `finalStatus` when an earlier attempt of this step recorded its final counts. */
  claimed: ExportCheckpoint;
  claimId: string;
  /** Every page and the ledger read (or, with `finalStatus`, nothing read: the recorded counts and tails). */
  run: PageProgress;
  status: ExportManifest['status'];
  progress: CheckpointProgress;
  remainingMs: () => number;
}

/**
 * The end of an export: complete both files, write the manifest, publish, commit. Safe to repeat
 * after a crash at any point, because the final counts and the files' tails are recorded
 * (`recordFinalCounts`) before either upload is completed, keeping the step's claim:
 *
 * - A redelivery of this step finds them and does not read RingCX again, so the counts in its
 *   manifest are those of the files as completed, even if the inventory changed meanwhile. (Reading
 *   again and completing with the new tail would fail, S3 having completed the upload already; and
 *   a manifest from the re-read counts would describe a file that was never stored.)
 * - A file an earlier attempt completed is recognised (PartUpload.complete: NoSuchUpload, and the
 *   object there has this upload's length), and its checksum is taken from the stored object as always.
 * - The manifest is written again, the same but for its times (`completedAt`, `durationMs`,
 *   `headroomMs`, the redelivery's), and the completion event is published again if the crash came
 *   after it. That duplicate is accepted: EventBridge delivers at least once to its consumers
 *   anyway, so they must take an exportId twice. A mark in the checkpoint before publishing would
 *   make it at most once instead (a crash between the mark and the publish loses the event), and a
 *   mark after it narrows the window no more than the commit that follows it.
 *
 * Undefined when the claim was taken over before the final counts were recorded: the other
 * invocation reads and completes the export.
 */
export async function finishExport(rt: Dependencies, step: FinalStep): Promise<ExportManifest | undefined> {
  const { checkpoints, claimed, claimId, run, status, progress } = step;
  const bucket = rt.config.BUCKET_NAME;
  if (!claimed.finalStatus) {
    const stateKey = `exports/checkpoints/${claimed.exportId}/final-${claimId}.bin`;
    // Only the tails: nothing is read after this, so the exported numbers and tracking groups are not needed.
    await saveCarriedState(rt.aws.s3, bucket, stateKey, { exported: new ExportedNumbers(), tracking: new Map(), exportTail: run.exportFile.tail, driftTail: run.drift.tail });
    if (!(await checkpoints.recordFinalCounts(claimed.exportId, claimed.step, claimId, { ...progress, stateKey }, status))) return undefined;
  }
  const completed = { export: await run.exportFile.complete(), drift: await run.drift.finish() };
  if (completed.export === 'completed-before' || completed.drift === 'completed-before') {
    logger.info('export files completed by an earlier attempt of this step; finishing with its recorded counts', { exportId: claimed.exportId, step: claimed.step, ...completed });
  }
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
    apiCalls: progress.apiCalls,
    apiCallsByEndpoint: progress.apiCallsByEndpoint,
    headroomMs: Math.max(0, Math.round(step.remainingMs())),
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
