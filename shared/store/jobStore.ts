import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { ObjectVersion } from '../contracts';
import type { DesiredRow, Mode, Outcome, Target } from '../domain/desiredRow';
import { OUTCOMES } from '../domain/desiredRow';
import type { StateSnapshot } from '../domain/stateFingerprint';
import { JOB_TABLE } from './table';

/*
 * One table, these kinds of item:
 *   JOB#<id> / META          the job: source, status, counters, the completion event not yet sent
 *   JOB#<id> / ROW#<line>    one row's final outcome (first write wins; conditional)
 *   JOB#<id> / TRY#<line>    a row's last allowed attempt, written before the work starts, so the
 *                            sweeper can settle a row whose last delivery died without an outcome
 *   LEDGER / DNIS#<dnis>     the desired-state ledger the drift report compares against
 *   AUDIT#<dnis> / <time>    who moved a number, why, from where to where
 *   REQ#<id> / META          a reassignment request's outcome and its answer (outbox)
 *   OPEN / JOB#<id>|REQ#<id> what the sweeper must look at: unfinished jobs, unsent answers
 * Outcome and counters are written in one transaction, so a job's counts always equal its rows.
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

/**
 * PLAN#<id> / META: where a saved plan is, until when it may be applied, and (once) which job
 * applied it, on whose approval. The conditional write on `appliedByJob` makes a plan apply once.
 */
export interface PlanRecord {
  planId: string;
  planKey: string;
  planJobId: string;
  createdAt: string;
  expiresAt: string;
  appliedByJob?: string;
  approval?: { approvedBy: string; reason: string; key: string; versionId?: string | undefined; at: string };
}

/** A row's last allowed delivery, recorded before the work so its outcome can be settled if it dies. */
export interface LastAttempt {
  line: number;
  dnis: string;
  target: string;
  raw: string[];
  receives: number;
  /** Epoch ms when the attempt started. */
  startedAt: number;
  /**
   * Epoch ms when the delivery handed the row on as a fresh message without starting it (a
   * deadline deferral): the row is alive elsewhere, so the sweeper must not settle it.
   */
  withdrawnAt?: number;
}

/** A reassignment request's recorded result and the answer owed to the caller. */
export interface RequestRecord {
  requestId: string;
  dnis: string;
  outcome: string;
  detail: string;
  at: string;
  /** Recorded on the last allowed receive after transient failures; a redrive processes it again. */
  gaveUp?: boolean;
  from: string | null;
  to: string | null;
  requestedBy: string;
  reason: string;
  apiCalls: number;
  answer: { detailType: string; detail: Record<string, unknown> };
  answerSent: boolean;
}

export interface RowOutcome {
  line: number;
  dnis: string;
  outcome: Outcome;
  detail: string;
  target: string;
  raw: string[];
  /** Set when a transient failure was recorded on the last allowed receive; a redrive may replace it. */
  gaveUp?: boolean;
  at?: string;
  /** Plan mode: what was planned and the RingCX state it was planned against (the saved plan's row). */
  planned?: { row: DesiredRow; actions: Record<string, unknown>[]; state: StateSnapshot; fingerprint: string };
}

/** The last desired state applied for a number; see ledgerUpdate for which fields a row sets. */
export interface LedgerEntry {
  dnis: string;
  accountId: string;
  category: string;
  active: boolean;
  description?: string;
  /** Present once some row or event declared routing; null means "should be unassigned". */
  target?: Target | null;
  assignmentActive?: boolean;
  assignmentDescription?: string;
  jobId: string;
  line: number;
  updatedAt: string;
}

/**
 * A file row that named a number but changed nothing (conflict, skipped, failed). Kept on the
 * number's ledger item, apart from the applied state, so the drift report does not call a number
 * "undeclared" that a file did declare.
 */
export interface LedgerDeclaration {
  jobId: string;
  line: number;
  outcome: Outcome;
  at: string;
}

/** A ledger item: an applied desired state (possibly with a later unapplied declaration), or only a declaration. */
export type LedgerItem = (LedgerEntry & { declared?: LedgerDeclaration }) | { dnis: string; declared: LedgerDeclaration; jobId?: undefined };

export interface AuditEntry {
  dnis: string;
  requestId: string;
  at: string;
  /** As the caller asserted it in the event; `account` and `source` are what EventBridge vouches for. */
  requestedBy: string;
  reason: string;
  source: string;
  /** The AWS account that put the request on the bus. */
  account?: string | undefined;
  before: Target | null;
  after: Target | null;
  outcome: string;
  detail: string;
  /** Changes made by applying a saved plan: the plan, and the apply job. */
  planId?: string;
  jobId?: string;
}

export interface OutcomeWrite extends RowOutcome {
  /** The desired state to remember in the ledger (apply mode, success only). */
  ledger?: { row: DesiredRow; target: Target | null; targetDeclared: boolean };
  /** This write replaces an earlier gave-up failure of the same row. */
  replacesGaveUp?: boolean;
  /** Apply mode, nothing applied: remember that a file declared the number (see LedgerDeclaration). */
  declares?: boolean;
}

const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'META' });
const rowKey = (jobId: string, line: number) => ({ pk: `JOB#${jobId}`, sk: `ROW#${String(line).padStart(10, '0')}` });
const attemptKey = (jobId: string, line: number) => ({ pk: `JOB#${jobId}`, sk: `TRY#${String(line).padStart(10, '0')}` });
const requestKey = (requestId: string) => ({ pk: `REQ#${requestId}`, sk: 'META' });
const planKey = (planId: string) => ({ pk: `PLAN#${planId}`, sk: 'META' });
/** Small on purpose: only unfinished jobs and unsent answers, so a sweep is one Query. */
const OPEN_PK = JOB_TABLE.openListPartition;
const openJobKey = (jobId: string) => ({ pk: OPEN_PK, sk: `JOB#${jobId}` });
const openRequestKey = (requestId: string) => ({ pk: OPEN_PK, sk: `REQ#${requestId}` });
/**
 * The ledger lives in one partition, sorted by number, so the drift report reads it with a paged
 * Query. Writes to it are bounded by RingCX's own budget (a few per second), far below what one
 * DynamoDB partition takes.
 */
const LEDGER_PK = 'LEDGER';
const ledgerKey = (dnis: string) => ({ pk: LEDGER_PK, sk: `DNIS#${dnis}` });

const zeroCounts = () => Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;

export interface JobStoreOptions {
  retentionDays: number;
  /** Audit entries answer "who moved this number" long after the job is gone: unset = kept forever. */
  auditRetentionDays?: number | undefined;
  now?: () => number;
}

export class JobStore {
  private readonly now: () => number;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly options: JobStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  private expiresAt(): number {
    return Math.floor(this.now() / 1000) + this.options.retentionDays * 86_400;
  }

  /**
   * Starts a job for one object version. A repeated S3 notification finds the job and gets
   * `duplicate`; a parse that died (its lease ran out) is taken over and re-run, which is safe
   * because every row write downstream is idempotent. A takeover renews the lease only: outcomes
   * that workers recorded meanwhile, and their counters, stay.
   */
  async claimJob(job: { jobId: string; mode: Mode; source: JobSource; resultsPrefix: string }, leaseMs: number): Promise<'claimed' | 'taken-over' | 'duplicate'> {
    const now = this.now();
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
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
                  expiresAt: this.expiresAt(),
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.table, Item: { ...openJobKey(job.jobId), kind: 'open', jobId: job.jobId, since: now, expiresAt: this.expiresAt() } } },
          ],
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!isTransactionConditionFailure(error)) throw error;
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: jobKey(job.jobId),
          UpdateExpression: 'SET #lease = :until',
          ConditionExpression: '#status = :parsing AND #lease < :now',
          ExpressionAttributeNames: aliases('status', { '#lease': 'leaseUntil' }),
          ExpressionAttributeValues: { ':parsing': 'parsing', ':now': now, ':until': now + leaseMs },
        }),
      );
      return 'taken-over';
    } catch (error) {
      if (isConditionFailure(error)) return 'duplicate';
      throw error;
    }
  }

  /**
   * A parse that failed unexpectedly (SQS or S3 unavailable) gives its lease back, so that Lambda's
   * own retry of the S3 event can take the job over at once instead of being called a duplicate.
   */
  async releaseJob(jobId: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: 'SET #lease = :zero',
        ConditionExpression: '#status = :parsing',
        ExpressionAttributeNames: aliases('status', { '#lease': 'leaseUntil' }),
        ExpressionAttributeValues: { ':zero': 0, ':parsing': 'parsing' },
      }),
    ).catch(() => undefined);
  }

  async getJob(jobId: string): Promise<JobMeta | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.table, Key: jobKey(jobId), ConsistentRead: true }));
    return result.Item as JobMeta | undefined;
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
  ) {
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
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
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
          ':at': new Date(this.now()).toISOString(),
          ':one': 1,
        },
      }),
    );
  }

  /** Facts about a job learnt after it was claimed: the plan it writes or applies, and who approved it. */
  async describeJob(jobId: string, facts: Pick<JobMeta, 'planId' | 'approval'>): Promise<void> {
    const entries = Object.entries(facts).filter(([, value]) => value !== undefined);
    if (entries.length === 0) return;
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: `SET ${entries.map(([name]) => `#${name} = :${name}`).join(', ')}`,
        ExpressionAttributeNames: Object.fromEntries(entries.map(([name]) => [`#${name}`, name])),
        ExpressionAttributeValues: Object.fromEntries(entries.map(([name, value]) => [`:${name}`, value])),
      }),
    );
  }

  /** Records where a saved plan is; a rewritten plan (a redrive) keeps the record of its apply. */
  async putPlanRecord(record: Omit<PlanRecord, 'appliedByJob' | 'approval'>): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: planKey(record.planId),
        UpdateExpression: 'SET #kind = :kind, #planId = :planId, #planKey = :planKey, #planJobId = :planJobId, #createdAt = :createdAt, #expiresAt = :expiresAt, #ttl = :ttl',
        ExpressionAttributeNames: aliases('kind', 'planId', 'planKey', 'planJobId', 'createdAt', { '#expiresAt': 'planExpiresAt', '#ttl': 'expiresAt' }),
        ExpressionAttributeValues: {
          ':kind': 'plan',
          ':planId': record.planId,
          ':planKey': record.planKey,
          ':planJobId': record.planJobId,
          ':createdAt': record.createdAt,
          ':expiresAt': record.expiresAt,
          ':ttl': this.expiresAt(),
        },
      }),
    );
  }

  async getPlanRecord(planId: string): Promise<PlanRecord | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.table, Key: planKey(planId), ConsistentRead: true }));
    if (!result.Item) return undefined;
    const { planExpiresAt, ...rest } = result.Item as PlanRecord & { planExpiresAt: string };
    return { ...rest, expiresAt: planExpiresAt };
  }

  /**
   * The one apply of a plan: the first approval's job takes it (a re-run of that same job keeps it);
   * any later one learns which job did.
   */
  async claimPlanApply(planId: string, jobId: string, approval: NonNullable<PlanRecord['approval']>): Promise<{ status: 'claimed' } | { status: 'applied'; jobId: string; approval?: PlanRecord['approval'] }> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: planKey(planId),
          UpdateExpression: 'SET #appliedByJob = :job, #approval = if_not_exists(#approval, :approval)',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#appliedByJob) OR #appliedByJob = :job)',
          ExpressionAttributeNames: aliases('appliedByJob', 'approval'),
          ExpressionAttributeValues: { ':job': jobId, ':approval': approval },
        }),
      );
      return { status: 'claimed' };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
    const record = await this.getPlanRecord(planId);
    return { status: 'applied', jobId: record?.appliedByJob ?? 'unknown', ...(record?.approval ? { approval: record.approval } : {}) };
  }

  /** The file cannot be used at all; the report says why. */
  async failJob(jobId: string, reason: string, header?: string[]) {
    const at = new Date(this.now()).toISOString();
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: 'SET #status = :failed, #fileError = :reason, #parsedAt = :at, #completedAt = :at, #header = :header REMOVE #lease',
        ExpressionAttributeNames: aliases('status', 'fileError', 'parsedAt', 'completedAt', 'header', { '#lease': 'leaseUntil' }),
        ExpressionAttributeValues: { ':failed': 'failed', ':reason': reason, ':at': at, ':header': header ?? [] },
      }),
    );
  }

  /** Rejected rows are final at parse time; plain puts, so a re-run parse writes the same items. */
  async putRejected(jobId: string, rows: RowOutcome[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 25) {
      let requests = rows.slice(i, i + 25).map((row) => ({
        PutRequest: { Item: { ...rowKey(jobId, row.line), kind: 'row', ...row, at: new Date(this.now()).toISOString(), expiresAt: this.expiresAt() } },
      }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        const result = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } }));
        requests = (result.UnprocessedItems?.[this.table] ?? []) as typeof requests;
        if (requests.length > 0) await sleep(Math.min(1_000, 50 * 2 ** attempt));
        if (attempt > 8 && requests.length > 0) throw new Error('DynamoDB kept throttling the rejected-row writes');
      }
    }
  }

  /** Lines of this job that already have a final outcome, and whether it was a gave-up failure. */
  async existingOutcomes(jobId: string, lines: number[]): Promise<Map<number, { outcome: Outcome; gaveUp: boolean }>> {
    const keys = [...new Set(lines)].map((line) => rowKey(jobId, line));
    const items = await this.batchGet(keys, { expression: '#line, #outcome, #gaveUp', names: aliases('line', 'outcome', 'gaveUp') });
    return new Map(items.map((item) => [item.line as number, { outcome: item.outcome as Outcome, gaveUp: item.gaveUp === true }]));
  }

  /**
   * Writes final outcomes with the job's counters in one transaction per chunk. A row already
   * recorded (a duplicate delivery that raced) is dropped from the chunk and the rest retried, so
   * each row is counted exactly once. Returns the lines this call recorded.
   */
  async recordOutcomes(jobId: string, outcomes: OutcomeWrite[], apiCalls: number): Promise<number[]> {
    const recorded: number[] = [];
    let calls = apiCalls;
    for (let i = 0; i < outcomes.length; i += 49) {
      let chunk = outcomes.slice(i, i + 49);
      for (let attempt = 0; chunk.length > 0; attempt++) {
        const { items, putIndex } = this.outcomeItems(jobId, chunk, calls);
        try {
          await this.db.send(new TransactWriteCommand({ TransactItems: items }));
          recorded.push(...chunk.map((o) => o.line));
          calls = 0;
          break;
        } catch (error) {
          const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
          const name = (error as Error).name;
          if (name === 'TransactionCanceledException' && reasons?.some((r) => r.Code === 'ConditionalCheckFailed')) {
            chunk = chunk.filter((_, index) => reasons[putIndex[index] as number]?.Code !== 'ConditionalCheckFailed');
            continue;
          }
          const transient = name === 'TransactionCanceledException' || name === 'TransactionConflictException' || name === 'ProvisionedThroughputExceededException' || name === 'ThrottlingException';
          if (!transient || attempt >= 8) throw error;
          await sleep(Math.random() * Math.min(2_000, 50 * 2 ** attempt));
        }
      }
    }
    return recorded;
  }

  private outcomeItems(jobId: string, chunk: OutcomeWrite[], apiCalls: number) {
    const at = new Date(this.now()).toISOString();
    const items: Record<string, unknown>[] = [];
    /** Position of each chunk row's Put, to read the transaction's CancellationReasons. */
    const putIndex: number[] = [];
    const delta = new Map<Outcome, number>();
    let newRows = 0;
    for (const o of chunk) {
      const { ledger, replacesGaveUp, declares, ...row } = o;
      putIndex.push(items.length);
      items.push({
        Put: {
          TableName: this.table,
          Item: { ...rowKey(jobId, o.line), kind: 'row', ...row, at, expiresAt: this.expiresAt() },
          ConditionExpression: replacesGaveUp ? '#outcome = :failed AND #gaveUp = :true' : 'attribute_not_exists(pk)',
          ...(replacesGaveUp ? { ExpressionAttributeNames: aliases('outcome', 'gaveUp'), ExpressionAttributeValues: { ':failed': 'failed', ':true': true } } : {}),
        },
      });
      if (ledger) items.push(this.ledgerUpdate(jobId, o.line, ledger, at));
      else if (declares) items.push(this.declarationUpdate({ jobId, line: o.line, outcome: o.outcome, at }, o.dnis));
      delta.set(o.outcome, (delta.get(o.outcome) ?? 0) + 1);
      if (replacesGaveUp) delta.set('failed', (delta.get('failed') ?? 0) - 1);
      else newRows += 1;
    }
    // A redrive that replaces a gave-up failure reopens a finished job: its reports must be rewritten.
    if (chunk.some((o) => o.replacesGaveUp)) {
      items.push({ Put: { TableName: this.table, Item: { ...openJobKey(jobId), kind: 'open', jobId, since: this.now(), expiresAt: this.expiresAt() } } });
    }
    const names: Record<string, string> = aliases('processed', 'apiCalls', 'counts', 'lastProgressAt', { '#version': 'outcomeVersion' });
    const values: Record<string, unknown> = { ':processed': newRows, ':calls': apiCalls, ':one': 1, ':progress': this.now() };
    const adds = ['#processed :processed', '#apiCalls :calls', '#version :one'];
    [...delta.entries()].forEach(([outcome, count], index) => {
      names[`#o${index}`] = outcome;
      values[`:o${index}`] = count;
      adds.push(`#counts.#o${index} :o${index}`);
    });
    items.push({
      Update: {
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: `SET #lastProgressAt = :progress ADD ${adds.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    });
    return { items: items as never[], putIndex };
  }

  private ledgerUpdate(jobId: string, line: number, ledger: NonNullable<OutcomeWrite['ledger']>, at: string) {
    const row = ledger.row;
    const names = aliases('dnis', 'accountId', 'category', 'active', 'jobId', 'line', 'updatedAt', 'description', 'target', 'assignmentActive', 'assignmentDescription');
    const sets = ['#dnis = :dnis', '#accountId = :account', '#category = :category', '#active = :active', '#jobId = :job', '#line = :line', '#updatedAt = :at'];
    const values: Record<string, unknown> = {
      ':dnis': row.dnis,
      ':account': row.accountId,
      ':category': row.category,
      ':active': row.active,
      ':job': jobId,
      ':line': line,
      ':at': at,
    };
    if (row.description !== undefined) {
      sets.push('#description = :description');
      values[':description'] = row.description;
    }
    // An inventory-only row says nothing about routing, so it keeps what an earlier row declared.
    if (ledger.targetDeclared) {
      sets.push('#target = :target', '#assignmentActive = :assignmentActive');
      values[':target'] = ledger.target;
      values[':assignmentActive'] = row.assignmentActive;
      if (row.assignmentDescription !== undefined) {
        sets.push('#assignmentDescription = :assignmentDescription');
        values[':assignmentDescription'] = row.assignmentDescription;
      }
    }
    return {
      Update: {
        TableName: this.table,
        Key: ledgerKey(row.dnis),
        UpdateExpression: `SET ${sets.join(', ')}`,
        // Only the names the expression uses may be declared.
        ExpressionAttributeNames: Object.fromEntries(Object.entries(names).filter(([alias]) => sets.some((set) => set.startsWith(`${alias} `)))),
        ExpressionAttributeValues: values,
      },
    };
  }

  /** Sets only the declaration: an applied state on the same item stays as it was. */
  private declarationUpdate(declared: LedgerDeclaration, dnis: string) {
    return {
      Update: {
        TableName: this.table,
        Key: ledgerKey(dnis),
        UpdateExpression: 'SET #dnis = :dnis, #declared = :declared',
        ExpressionAttributeNames: aliases('dnis', 'declared'),
        ExpressionAttributeValues: { ':dnis': dnis, ':declared': declared },
      },
    };
  }

  /**
   * Claims the right to write the job's reports: every accepted row has an outcome and no report
   * yet reflects the latest one. Exactly one caller wins; a writer that dies loses its lease.
   */
  async tryStartReport(jobId: string, leaseMs = 120_000): Promise<JobMeta | undefined> {
    const now = this.now();
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #reportLease = :lease',
          ConditionExpression:
            '#status IN (:running, :stalled, :completed) AND #processed >= #accepted AND #version > #reportedVersion AND (attribute_not_exists(#reportLease) OR #reportLease < :now)',
          ExpressionAttributeNames: aliases('status', 'reportLease', 'processed', 'accepted', 'reportedVersion', { '#version': 'outcomeVersion' }),
          ExpressionAttributeValues: { ':running': 'running', ':stalled': 'stalled', ':completed': 'completed', ':now': now, ':lease': now + leaseMs },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return result.Attributes as JobMeta;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /**
   * The reports for `version` are written: the job is completed, and the completion event is
   * recorded as owed before anyone tries to send it, so a refused PutEvents cannot keep a job open.
   */
  async finishReport(jobId: string, version: number, event?: { detailType: string; detail: Record<string, unknown> }): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: `SET #status = :completed, #reportedVersion = :version, #completedAt = if_not_exists(#completedAt, :at)${event ? ', #pendingEvent = :event' : ''} REMOVE #reportLease`,
        ConditionExpression: '#status IN (:running, :stalled, :completed)',
        ExpressionAttributeNames: aliases('status', 'reportedVersion', 'completedAt', 'reportLease', ...(event ? ['pendingEvent'] : [])),
        ExpressionAttributeValues: {
          ':completed': 'completed',
          ':running': 'running',
          ':stalled': 'stalled',
          ':version': version,
          ':at': new Date(this.now()).toISOString(),
          ...(event ? { ':event': { ...event, version } } : {}),
        },
      }),
    );
  }

  /** Records the event a refused file owes (its status is already `failed`). */
  async setPendingEvent(jobId: string, event: { detailType: string; detail: Record<string, unknown> }): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: 'SET #pendingEvent = :event',
        ExpressionAttributeNames: aliases('pendingEvent'),
        ExpressionAttributeValues: { ':event': { ...event, version: 0 } },
      }),
    );
  }

  /** The event for `version` was sent; a newer pending event (a rewritten report) stays. */
  async clearPendingEvent(jobId: string, version: number): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: jobKey(jobId),
          UpdateExpression: 'REMOVE #pendingEvent',
          ConditionExpression: '#pendingEvent.#version = :version',
          ExpressionAttributeNames: aliases('pendingEvent', 'version'),
          ExpressionAttributeValues: { ':version': version },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  /**
   * Takes a finished job off the sweeper's list: completed or refused, reports current, event sent.
   * One transaction, so a redrive that reopens the job meanwhile keeps it on the list.
   */
  async closeJobIfSettled(jobId: string): Promise<boolean> {
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: jobKey(jobId),
                ConditionExpression: '#status IN (:completed, :failed) AND attribute_not_exists(#pendingEvent) AND #version <= #reportedVersion AND attribute_not_exists(#reportLease)',
                ExpressionAttributeNames: aliases('status', 'pendingEvent', 'reportedVersion', 'reportLease', { '#version': 'outcomeVersion' }),
                ExpressionAttributeValues: { ':completed': 'completed', ':failed': 'failed' },
              },
            },
            { Delete: { TableName: this.table, Key: openJobKey(jobId) } },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (isTransactionConditionFailure(error)) return false;
      throw error;
    }
  }

  /** A job with nothing more on the sweeper's list (it no longer exists). */
  async forgetOpenJob(jobId: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: openJobKey(jobId) }));
  }

  /** running → stalled, once; false when the job is not running (already stalled, or finished). */
  async markStalled(jobId: string): Promise<boolean> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #status = :stalled, #stalledAt = :at',
          ConditionExpression: '#status = :running',
          ExpressionAttributeNames: aliases('status', 'stalledAt'),
          ExpressionAttributeValues: { ':stalled': 'stalled', ':running': 'running', ':at': new Date(this.now()).toISOString() },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Unfinished jobs and unsent answers: everything the sweeper has to look at. */
  async openItems(): Promise<{ jobs: string[]; requests: string[] }> {
    const jobs: string[] = [];
    const requests: string[] = [];
    for await (const item of this.query<{ sk: string }>('pk = :pk', { ':pk': OPEN_PK })) {
      if (item.sk.startsWith('JOB#')) jobs.push(item.sk.slice(4));
      else if (item.sk.startsWith('REQ#')) requests.push(item.sk.slice(4));
    }
    return { jobs, requests };
  }

  /**
   * Marks rows as being on their last allowed delivery, before the work starts. A delivery that
   * then dies (crash, timeout) leaves this record and no outcome; the sweeper settles the row.
   */
  async recordLastAttempts(jobId: string, attempts: LastAttempt[]): Promise<void> {
    for (let i = 0; i < attempts.length; i += 25) {
      let requests = attempts.slice(i, i + 25).map((attempt) => ({
        PutRequest: { Item: { ...attemptKey(jobId, attempt.line), kind: 'attempt', ...attempt, expiresAt: this.expiresAt() } },
      }));
      for (let round = 0; requests.length > 0; round++) {
        if (round > 8) throw new Error('DynamoDB kept throttling the attempt records');
        if (round > 0) await sleep(Math.min(1_000, 50 * 2 ** round));
        const result = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: requests } }));
        requests = (result.UnprocessedItems?.[this.table] ?? []) as typeof requests;
      }
    }
  }

  /**
   * The rows' last-delivery marks no longer stand: their delivery handed them on as fresh messages.
   * A later last delivery of those messages marks them again (a Put, which clears this).
   */
  async withdrawLastAttempts(jobId: string, lines: number[], at = Date.now()): Promise<void> {
    for (const line of lines) {
      try {
        await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: attemptKey(jobId, line),
            UpdateExpression: 'SET withdrawnAt = :at',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':at': at },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
  }

  lastAttempts(jobId: string): AsyncGenerator<LastAttempt> {
    return this.query<LastAttempt>('pk = :pk AND begins_with(sk, :try)', { ':pk': `JOB#${jobId}`, ':try': 'TRY#' });
  }

  /** Every row outcome of a job in line order, a page at a time. */
  rows(jobId: string): AsyncGenerator<RowOutcome> {
    return this.query<RowOutcome>('pk = :pk AND begins_with(sk, :row)', { ':pk': `JOB#${jobId}`, ':row': 'ROW#' });
  }

  private async *query<T>(keyCondition: string, values: Record<string, unknown>): AsyncGenerator<T> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: keyCondition,
          ExpressionAttributeValues: values,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) yield item as T;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  /** Items by key, 100 to a BatchGet, retrying what DynamoDB leaves unprocessed. */
  private async batchGet(keys: Record<string, unknown>[], projection?: { expression: string; names: Record<string, string> }) {
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending = keys.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(1_000, 50 * 2 ** attempt));
        const result = await this.db.send(
          new BatchGetCommand({
            RequestItems: {
              [this.table]: {
                Keys: pending,
                ConsistentRead: true,
                ...(projection ? { ProjectionExpression: projection.expression, ExpressionAttributeNames: projection.names } : {}),
              },
            },
          }),
        );
        items.push(...(result.Responses?.[this.table] ?? []));
        pending = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return items;
  }

  /** Ledger entries for many numbers at once (the export checks a page of numbers per call). */
  async getLedgerEntries(dnisList: string[]): Promise<Map<string, LedgerItem>> {
    const items = await this.batchGet(dnisList.map(ledgerKey));
    return new Map(items.map((item) => [item.dnis as string, item as unknown as LedgerItem]));
  }

  /** Every ledger entry in number order, a page at a time. */
  ledger(): AsyncGenerator<LedgerItem> {
    return this.query<LedgerItem>('pk = :pk', { ':pk': LEDGER_PK });
  }

  /** Remembers the desired state an accepted reassignment declared, for the drift report. */
  async putLedger(source: { jobId: string; line: number }, ledger: NonNullable<OutcomeWrite['ledger']>): Promise<void> {
    const update = this.ledgerUpdate(source.jobId, source.line, ledger, new Date(this.now()).toISOString()).Update;
    await this.db.send(new UpdateCommand(update));
  }

  /**
   * Records a request's result, its audit entry and (on success) its ledger entry in one
   * transaction, with the answer still owed (outbox). First write wins, except that a gave-up
   * result may be replaced by a redrive's real one. False when another delivery recorded first.
   */
  async recordRequestResult(
    record: Omit<RequestRecord, 'answerSent'>,
    audit: AuditEntry,
    ledger: { source: { jobId: string; line: number }; entry: NonNullable<OutcomeWrite['ledger']> } | undefined,
    replacesGaveUp: boolean,
  ): Promise<boolean> {
    const at = new Date(this.now()).toISOString();
    const items: Record<string, unknown>[] = [
      {
        Put: {
          TableName: this.table,
          Item: { ...requestKey(record.requestId), kind: 'request', ...record, answerSent: false, expiresAt: this.expiresAt() },
          ConditionExpression: replacesGaveUp ? '#gaveUp = :true' : 'attribute_not_exists(pk)',
          ...(replacesGaveUp ? { ExpressionAttributeNames: aliases('gaveUp'), ExpressionAttributeValues: { ':true': true } } : {}),
        },
      },
      { Put: { TableName: this.table, Item: this.auditItem(audit) } },
      { Put: { TableName: this.table, Item: { ...openRequestKey(record.requestId), kind: 'open', requestId: record.requestId, since: this.now(), expiresAt: this.expiresAt() } } },
    ];
    if (ledger) items.push(this.ledgerUpdate(ledger.source.jobId, ledger.source.line, ledger.entry, at));
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items as never[] }));
      return true;
    } catch (error) {
      if (isTransactionConditionFailure(error)) return false;
      throw error;
    }
  }

  async getRequest(requestId: string): Promise<RequestRecord | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.table, Key: requestKey(requestId), ConsistentRead: true }));
    return result.Item as RequestRecord | undefined;
  }

  /** The caller has its answer: the request leaves the sweeper's list. */
  async markAnswerSent(requestId: string): Promise<void> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          { Update: { TableName: this.table, Key: requestKey(requestId), UpdateExpression: 'SET #sent = :true', ExpressionAttributeNames: { '#sent': 'answerSent' }, ExpressionAttributeValues: { ':true': true } } },
          { Delete: { TableName: this.table, Key: openRequestKey(requestId) } },
        ],
      }),
    );
  }

  async forgetOpenRequest(requestId: string): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.table, Key: openRequestKey(requestId) }));
  }

  /** Who changed a number's routing, why, from where to where, and when. Kept for auditRetentionDays, or forever. */
  async audit(entry: AuditEntry): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.table, Item: this.auditItem(entry) }));
  }

  private auditItem(entry: AuditEntry) {
    const days = this.options.auditRetentionDays;
    const expiry = days === undefined ? {} : { expiresAt: Math.floor(this.now() / 1000) + days * 86_400 };
    return { pk: `AUDIT#${entry.dnis}`, sk: `${entry.at}#${entry.requestId}`, kind: 'audit', ...entry, ...expiry };
  }

  async auditTrail(dnis: string): Promise<AuditEntry[]> {
    const result = await this.db.send(
      new QueryCommand({ TableName: this.table, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `AUDIT#${dnis}` } }),
    );
    return (result.Items ?? []) as AuditEntry[];
  }

  /**
   * A lease that at most one holder has at a time (the token refresher's). Returns false while
   * someone else's lease is still running.
   */
  async acquireLease(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.now();
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: `LEASE#${name}`, sk: 'META', owner, until: now + leaseMs },
          ConditionExpression: 'attribute_not_exists(pk) OR #until < :now',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: { ':now': now },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: `LEASE#${name}`, sk: 'META' },
          UpdateExpression: 'SET #until = :zero',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#until': 'until', '#owner': 'owner' },
          ExpressionAttributeValues: { ':zero': 0, ':owner': owner },
        }),
      )
      .catch(() => undefined);
  }
}

function isConditionFailure(error: unknown): boolean {
  return (error as Error).name === 'ConditionalCheckFailedException';
}

function isTransactionConditionFailure(error: unknown): boolean {
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  return (error as Error).name === 'TransactionCanceledException' && (reasons?.some((r) => r.Code === 'ConditionalCheckFailed') ?? false);
}

/** `#name` aliases for attribute names: DynamoDB reserves hundreds of words (status, total, line...). */
function aliases(...names: (string | Record<string, string>)[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of names) {
    if (typeof name === 'string') result[`#${name}`] = name;
    else Object.assign(result, name);
  }
  return result;
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
