import type { ObjectVersion } from '../contracts';
import type { Mode, Outcome } from '../domain/desiredRow';
import { OUTCOMES } from '../domain/desiredRow';
import { aliases, type DynamoTable, type Retention } from './dynamo';
import { openJobEntry } from './openList';

/*
 *   JOB#<id> / META   the job: its source, status, counters, and the completion event not yet sent
 *
 * This file starts a job and moves it through parsing; jobCompletion.ts finishes it. A row's
 * outcome and the job's counters are written in one transaction (rowOutcomes.ts), so a job's
 * counts always equal its rows.
 */

/** `stalled`: the sweeper found no progress for longer than the completion bound; it may still complete. */
export type JobStatus = 'parsing' | 'running' | 'stalled' | 'completed' | 'failed';

/** An event recorded before it is sent (outbox): the sweeper re-sends it until EventBridge takes it. */
export interface PendingEvent {
  detailType: string;
  detail: Record<string, unknown>;
  /** The outcome version the event describes; a newer report replaces it. */
  version: number;
}

/** The uploaded object version the job is about. */
export type JobSource = ObjectVersion;

export interface JobMeta {
  jobId: string;
  mode: Mode;
  source: JobSource;
  resultsPrefix: string;
  status: JobStatus;
  startedAt: string;
  parsedAt?: string;
  completedAt?: string;
  total: number;
  accepted: number;
  rejected: number;
  processed: number;
  counts: Record<Outcome, number>;
  apiCalls: number;
  outcomeVersion: number;
  reportedVersion: number;
  header?: string[];
  ignoredColumns?: string[];
  fileError?: string;
  /** Epoch ms until which a parser holds the job (status `parsing`). */
  leaseUntil?: number;
  /** Epoch ms of the last row outcome recorded. */
  lastProgressAt?: number;
  stalledAt?: string;
  pendingEvent?: PendingEvent;
  /** SHA-256 of the object's bytes, as read. */
  sha256?: string;
  /** Plan mode: the saved plan this run wrote. Apply of a plan: the plan applied. */
  planId?: string;
  /** Apply of a plan: who approved it and why (the approval object's content). */
  approval?: { approvedBy: string; reason: string };
}

export const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'META' });

const zeroCounts = () => Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;

export class Jobs {
  constructor(
    private readonly table: DynamoTable,
    private readonly retention: Retention,
  ) {}

  /**
   * Starts a job for one object version. A repeated S3 notification finds the job and gets
   * `duplicate`; a parse that died (its lease ran out) is taken over and re-run, which is safe
   * because every row write downstream is idempotent. A takeover renews the lease only: outcomes
   * that workers recorded meanwhile, and their counters, stay.
   */
  async claimJob(job: { jobId: string; mode: Mode; source: JobSource; resultsPrefix: string }, leaseMs: number): Promise<'claimed' | 'taken-over' | 'duplicate'> {
    const now = this.table.now();
    const started = await this.table.transactIf([
      {
        Put: {
          Item: {
            ...jobKey(job.jobId),
            kind: 'job',
            jobId: job.jobId,
            mode: job.mode,
            source: job.source,
            resultsPrefix: job.resultsPrefix,
            status: 'parsing',
            leaseUntil: now + leaseMs,
            startedAt: new Date(now).toISOString(),
            total: 0,
            accepted: 0,
            rejected: 0,
            processed: 0,
            counts: zeroCounts(),
            apiCalls: 0,
            outcomeVersion: 0,
            reportedVersion: 0,
            expiresAt: this.table.expiresIn(this.retention.retentionDays),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      openJobEntry(this.table, this.retention.retentionDays, job.jobId),
    ]);
    if (started.written) return 'claimed';
    const takenOver = await this.table.updateIf({
      Key: jobKey(job.jobId),
      UpdateExpression: 'SET #lease = :until',
      ConditionExpression: '#status = :parsing AND #lease < :now',
      ExpressionAttributeNames: aliases('status', { '#lease': 'leaseUntil' }),
      ExpressionAttributeValues: { ':parsing': 'parsing', ':now': now, ':until': now + leaseMs },
    });
    return takenOver.written ? 'taken-over' : 'duplicate';
  }

  /**
   * A parse that failed unexpectedly (SQS or S3 unavailable) gives its lease back, so that Lambda's
   * own retry of the S3 event can take the job over at once instead of being called a duplicate.
   * Best effort: if this fails too, the lease simply runs out.
   */
  async releaseJob(jobId: string): Promise<void> {
    await this.table
      .updateItem({
        Key: jobKey(jobId),
        UpdateExpression: 'SET #lease = :zero',
        ConditionExpression: '#status = :parsing',
        ExpressionAttributeNames: aliases('status', { '#lease': 'leaseUntil' }),
        ExpressionAttributeValues: { ':zero': 0, ':parsing': 'parsing' },
      })
      .catch(() => undefined);
  }

  async getJob(jobId: string): Promise<JobMeta | undefined> {
    return this.table.getItem<JobMeta>(jobKey(jobId));
  }

  /** Parsing is over: from now on the job completes when `processed` reaches `accepted`. */
  async finishParsing(
    jobId: string,
    counts: {
      total: number;
      accepted: number;
      rejected: number;
      header: string[];
      ignoredColumns: string[];
      sha256?: string | undefined;
      /** Rows settled without a worker (an apply's rows planned as unchanged, conflict...), by outcome. */
      settled?: Partial<Record<Outcome, number>>;
    },
  ): Promise<void> {
    const settled = Object.entries(counts.settled ?? {}).filter(([outcome]) => outcome !== 'rejected');
    const extraNames: Record<string, string> = {};
    const extraValues: Record<string, unknown> = {};
    const extraSets: string[] = [];
    settled.forEach(([outcome, count], index) => {
      extraNames[`#s${index}`] = outcome;
      extraValues[`:s${index}`] = count;
      extraSets.push(`#counts.#s${index} = :s${index}`);
    });
    if (counts.sha256) {
      extraNames['#sha256'] = 'sha256';
      extraValues[':sha256'] = counts.sha256;
      extraSets.push('#sha256 = :sha256');
    }
    await this.table.updateItem({
      Key: jobKey(jobId),
      UpdateExpression: `SET #status = :running, #total = :total, #accepted = :accepted, #rejected = :rejected, #counts.#rejected = :rejected, #header = :header, #ignored = :ignored, #parsedAt = :at, #version = #version + :one${extraSets.map((set) => `, ${set}`).join('')} REMOVE #lease`,
      ConditionExpression: '#status = :parsing',
      ExpressionAttributeNames: aliases('status', 'total', 'accepted', 'rejected', 'counts', 'header', 'parsedAt', { '#ignored': 'ignoredColumns', '#version': 'outcomeVersion', '#lease': 'leaseUntil' }, extraNames),
      ExpressionAttributeValues: {
        ...extraValues,
        ':running': 'running',
        ':parsing': 'parsing',
        ':total': counts.total,
        ':accepted': counts.accepted,
        ':rejected': counts.rejected,
        ':header': counts.header,
        ':ignored': counts.ignoredColumns,
        ':at': new Date(this.table.now()).toISOString(),
        ':one': 1,
      },
    });
  }

  /** Facts about a job learnt after it was claimed: the plan it writes or applies, and who approved it. */
  async describeJob(jobId: string, facts: Pick<JobMeta, 'planId' | 'approval'>): Promise<void> {
    const entries = Object.entries(facts).filter(([, value]) => value !== undefined);
    if (entries.length === 0) return;
    await this.table.updateItem({
      Key: jobKey(jobId),
      UpdateExpression: `SET ${entries.map(([name]) => `#${name} = :${name}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(entries.map(([name]) => [`#${name}`, name])),
      ExpressionAttributeValues: Object.fromEntries(entries.map(([name, value]) => [`:${name}`, value])),
    });
  }

  /** The file cannot be used at all; the report says why. */
  async failJob(jobId: string, reason: string, header?: string[]): Promise<void> {
    const at = new Date(this.table.now()).toISOString();
    await this.table.updateItem({
      Key: jobKey(jobId),
      UpdateExpression: 'SET #status = :failed, #fileError = :reason, #parsedAt = :at, #completedAt = :at, #header = :header REMOVE #lease',
      ExpressionAttributeNames: aliases('status', 'fileError', 'parsedAt', 'completedAt', 'header', { '#lease': 'leaseUntil' }),
      ExpressionAttributeValues: { ':failed': 'failed', ':reason': reason, ':at': at, ':header': header ?? [] },
    });
  }

  /** running → stalled, once; false when the job is not running (already stalled, or finished). */
  async markStalled(jobId: string): Promise<boolean> {
    const stalled = await this.table.updateIf({
      Key: jobKey(jobId),
      UpdateExpression: 'SET #status = :stalled, #stalledAt = :at',
      ConditionExpression: '#status = :running',
      ExpressionAttributeNames: aliases('status', 'stalledAt'),
      ExpressionAttributeValues: { ':stalled': 'stalled', ':running': 'running', ':at': new Date(this.table.now()).toISOString() },
    });
    return stalled.written;
  }
}
