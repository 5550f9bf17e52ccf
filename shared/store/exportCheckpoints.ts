import { aliases, type DynamoTable, type Retention } from './dynamo';

/*
 *   EXPORT#<id> / META     an export that may span invocations: where it stopped (the page to read
 *                          next, its counts, its S3 multipart uploads) as of its last committed
 *                          step, and which invocation works on the next step (the claim)
 *   EXPORT#ACTIVE / META   the one export that runs now, so a second schedule tick or an on-demand
 *                          run does not start another beside it
 *
 * A step is one invocation's share of the export. Every write is conditional on the step the
 * writer started from and on its claim, so a redelivered continuation, a Lambda retry of the
 * scheduled start, or an invocation whose claim ran out changes nothing that another has committed.
 *
 * The last step records its final counts (`finalStatus`) before it completes the two files, and
 * keeps its claim: completing an S3 multipart upload cannot be undone or repeated, so a
 * redelivery of that step after a crash must finish the same files with the same counts instead of
 * reading RingCX again (which may have changed meanwhile, and would then disagree with the file
 * already stored).
 */

/** One multipart upload as far as its committed parts go; what is buffered beyond them lives in the state object. */
export interface UploadProgress {
  uploadId: string;
  parts: { partNumber: number; etag: string }[];
}

export interface ExportCheckpoint {
  exportId: string;
  status: 'running' | 'complete';
  /** Invocations committed so far; the continuation message for the next one carries this number. */
  step: number;
  startedAt: string;
  accountIds: string[];
  pageSize: number;
  files: { export: string; drift: string; manifest: string };
  nextPage: number;
  /** Every page is read; only the drift report's ledger pass and the file completion remain. */
  pagesDone: boolean;
  numbers: number;
  assigned: number;
  pages: number;
  apiCalls: number;
  apiCallsByEndpoint: Record<string, number>;
  drift: Record<string, number>;
  slowestPageMs: number;
  exportUpload: UploadProgress;
  driftUpload: UploadProgress;
  /** The S3 object with the exported numbers, tracking groups and buffered tails; absent at step 0. */
  stateKey?: string;
  /**
   * Set by the last step once every page and the ledger are read: the counts above are final, the
   * uploads' parts and the state object's tails make the whole files, and the step only has to
   * complete them (perhaps done already), write the manifest and publish.
   */
  finalStatus?: 'complete' | 'incomplete';
  claimId?: string;
  /** Epoch ms: the claiming invocation's deadline; after it the step may be claimed again. */
  claimUntil?: number;
}

/** What a commit changes: the progress of the step just finished. */
export type CheckpointProgress = Omit<ExportCheckpoint, 'exportId' | 'status' | 'step' | 'startedAt' | 'accountIds' | 'pageSize' | 'files' | 'claimId' | 'claimUntil' | 'finalStatus'>;

const exportKey = (exportId: string) => ({ pk: `EXPORT#${exportId}`, sk: 'META' });
const ACTIVE_KEY = { pk: 'EXPORT#ACTIVE', sk: 'META' };

/**
 * How long the active-export marker holds without a commit renewing it. Longer than a continuation
 * can take to come back after a crash (the exports queue's visibility timeout, 6 × 15 minutes),
 * so a live export is never overtaken; short enough that a dead one blocks the next day's run only briefly.
 */
export const ACTIVE_EXPORT_HOLD_MS = 3 * 60 * 60_000;

const PROGRESS_FIELDS = [
  'nextPage',
  'pagesDone',
  'numbers',
  'assigned',
  'pages',
  'apiCalls',
  'apiCallsByEndpoint',
  'drift',
  'slowestPageMs',
  'exportUpload',
  'driftUpload',
  'stateKey',
] as const satisfies readonly (keyof CheckpointProgress)[];

export type BeginResult = { status: 'begun' } | { status: 'exists' } | { status: 'busy'; activeExportId: string };
export type ClaimResult = { status: 'claimed'; checkpoint: ExportCheckpoint } | { status: 'stale' | 'ahead' | 'held' | 'missing'; checkpoint?: ExportCheckpoint };

export class ExportCheckpoints {
  constructor(
    private readonly table: DynamoTable,
    private readonly retention: Retention,
  ) {}

  /**
   * Records a new export, claimed by its first invocation, and marks it the active one. `exists`:
   * this export id was begun before (a retry of the same schedule tick); `busy`: another export runs.
   */
  async beginExport(checkpoint: ExportCheckpoint & { claimId: string; claimUntil: number }): Promise<BeginResult> {
    const now = this.table.now();
    const result = await this.table.transactIf([
      {
        Put: {
          Item: { ...ACTIVE_KEY, kind: 'active-export', exportId: checkpoint.exportId, until: now + ACTIVE_EXPORT_HOLD_MS },
          ConditionExpression: 'attribute_not_exists(pk) OR #until < :now OR #exportId = :exportId',
          ExpressionAttributeNames: aliases('until', 'exportId'),
          ExpressionAttributeValues: { ':now': now, ':exportId': checkpoint.exportId },
        },
      },
      {
        Put: {
          Item: { ...exportKey(checkpoint.exportId), kind: 'export', ...checkpoint, expiresAt: this.table.expiresIn(this.retention.retentionDays) },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
    if (result.written) return { status: 'begun' };
    if (result.failedItems.has(1)) return { status: 'exists' };
    const active = await this.table.getItem<{ exportId: string }>(ACTIVE_KEY);
    return { status: 'busy', activeExportId: active?.exportId ?? 'unknown' };
  }

  async getExportCheckpoint(exportId: string): Promise<ExportCheckpoint | undefined> {
    const item = await this.table.getItem<ExportCheckpoint & StoredKeys>(exportKey(exportId));
    return item && withoutKeys(item);
  }

  /**
   * Takes step `step` of the export for one invocation until `until`. `stale`: that step is
   * committed already (or the export is complete), so this delivery is a duplicate; `ahead`: the
   * step before it is not committed yet; `held`: another invocation's claim on it still runs.
   */
  async claimExportStep(exportId: string, step: number, claimId: string, until: number): Promise<ClaimResult> {
    const claimed = await this.table.updateIf({
      Key: exportKey(exportId),
      UpdateExpression: 'SET #claimId = :claimId, #claimUntil = :until',
      ConditionExpression: 'attribute_exists(pk) AND #status = :running AND #step = :step AND (attribute_not_exists(#claimUntil) OR #claimUntil < :now OR #claimId = :claimId)',
      ExpressionAttributeNames: aliases('claimId', 'claimUntil', 'status', 'step'),
      ExpressionAttributeValues: { ':claimId': claimId, ':until': until, ':running': 'running', ':step': step, ':now': this.table.now() },
      ReturnValues: 'ALL_NEW',
    });
    if (claimed.written) return { status: 'claimed', checkpoint: withoutKeys(claimed.attributes as unknown as ExportCheckpoint & StoredKeys) };
    const checkpoint = await this.getExportCheckpoint(exportId);
    if (!checkpoint) return { status: 'missing' };
    if (checkpoint.status === 'complete' || checkpoint.step > step) return { status: 'stale', checkpoint };
    if (checkpoint.step < step) return { status: 'ahead', checkpoint };
    return { status: 'held', checkpoint };
  }

  /**
   * Commits the step this claim worked on, releasing the claim, and renews the active marker.
   * False when the claim was lost meanwhile: nothing is written, another invocation owns the step.
   */
  async commitExportStep(exportId: string, step: number, claimId: string, progress: CheckpointProgress, complete = false): Promise<boolean> {
    const names = aliases('step', 'claimId', 'claimUntil', 'status');
    const values: Record<string, unknown> = { ':step': step, ':next': step + 1, ':claimId': claimId, ':status': complete ? 'complete' : 'running' };
    const sets = ['#step = :next', '#status = :status', ...progressSets(progress, names, values)];
    const committed = await this.table.updateIf({
      Key: exportKey(exportId),
      UpdateExpression: `SET ${sets.join(', ')} REMOVE #claimId, #claimUntil`,
      ConditionExpression: '#step = :step AND #claimId = :claimId',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
    if (!committed.written) return false;
    const now = this.table.now();
    // Best effort: a marker not renewed or released runs out on its own.
    await this.table
      .updateItem({
        Key: ACTIVE_KEY,
        UpdateExpression: 'SET #until = :until',
        ConditionExpression: '#exportId = :exportId',
        ExpressionAttributeNames: aliases('until', 'exportId'),
        ExpressionAttributeValues: { ':until': complete ? 0 : now + ACTIVE_EXPORT_HOLD_MS, ':exportId': exportId },
      })
      .catch(() => undefined);
    return true;
  }

  /**
   * Records the last step's final counts and the state object with its tails, within the step and
   * keeping the claim (the step is committed once its files are complete and its manifest written).
   * Once only: a redelivery that finds them set completes what they describe. False when the claim
   * was lost or they were recorded already: the files are then another invocation's to complete.
   */
  async recordFinalCounts(exportId: string, step: number, claimId: string, progress: CheckpointProgress, finalStatus: 'complete' | 'incomplete'): Promise<boolean> {
    const names = aliases('step', 'claimId', 'finalStatus');
    const values: Record<string, unknown> = { ':step': step, ':claimId': claimId, ':finalStatus': finalStatus };
    const sets = ['#finalStatus = :finalStatus', ...progressSets(progress, names, values)];
    const recorded = await this.table.updateIf({
      Key: exportKey(exportId),
      UpdateExpression: `SET ${sets.join(', ')}`,
      ConditionExpression: '#step = :step AND #claimId = :claimId AND attribute_not_exists(#finalStatus)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
    return recorded.written;
  }
}

/** `#field = :field` for each progress field given, adding its name and value. */
function progressSets(progress: CheckpointProgress, names: Record<string, string>, values: Record<string, unknown>): string[] {
  const sets: string[] = [];
  for (const field of PROGRESS_FIELDS) {
    if (progress[field] === undefined) continue;
    sets.push(`#${field} = :${field}`);
    names[`#${field}`] = field;
    values[`:${field}`] = progress[field];
  }
  return sets;
}

interface StoredKeys {
  pk: string;
  sk: string;
  kind: string;
  expiresAt: number;
}

function withoutKeys(item: ExportCheckpoint & StoredKeys): ExportCheckpoint {
  const { pk: _pk, sk: _sk, kind: _kind, expiresAt: _expiresAt, ...checkpoint } = item;
  return checkpoint;
}
