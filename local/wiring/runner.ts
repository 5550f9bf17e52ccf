import { fileURLToPath } from 'node:url';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsClients } from '../../shared/aws/clients';
import { loadConfig } from '../../shared/config';
import { DETAIL_TYPES } from '../../shared/contracts';
import type { IngestResult } from '../../shared/parser/ingestObject';
import { reportKeys, type JobSummary } from '../../shared/jobs/reports';
import { JobStore, type JobMeta } from '../../shared/store/jobStore';
import { RingCxAuthError, RingCxError } from '../../shared/ringcx/errors';
import type { LocalStack } from '../stack';
import { FunctionPool } from '../twin/functionPool';
import type { HostError } from '../twin/protocol';
import { type MappingInvocation, TwinEventSourceMapping } from '../twin/eventSourceMapping';
import { lambdaContext, s3ObjectCreatedEvent } from './lambdaEvents';

export interface LocalHandlers {
  parser: (event: S3Event, context: Context) => Promise<unknown>;
  /**
   * Ignored: the worker and the exporter run on the twin, each environment a process of its own
   * loading functions/<name>/app.ts. Still accepted so callers written for in-process runs compile.
   */
  worker?: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  intake?: (event: unknown, context: Context) => Promise<unknown>;
  exporter?: (event: unknown, context: Context) => Promise<unknown>;
  refresher?: (event: unknown, context: Context) => Promise<unknown>;
}

export interface LocalRunnerOptions {
  /** Environments are replaced after this many invocations, so cold starts happen in every run. */
  maxInvocationsPerInstance?: number;
  /** Chance an environment is retired after an invocation. */
  retireRate?: number;
  random?: () => number;
}

export interface FileOutcome {
  jobId: string;
  summary: JobSummary;
  reports: Record<'results.csv' | 'failed.csv' | 'summary.json', string>;
  table: string;
}

export interface RunnerError {
  fn: string;
  message: string;
}

/** The two answers a reassignment request gets. */
const ANSWER_DETAIL_TYPES: readonly string[] = [DETAIL_TYPES.reassigned, DETAIL_TYPES.reassignmentFailed];

const functionEntry = (name: string) => fileURLToPath(new URL(`../../functions/${name}/app.ts`, import.meta.url));

/**
 * AWS's event delivery, locally, with the deployed stack's sizing (local/twin/sizing.ts): an object
 * put in the bucket invokes the parser with the S3 event shape; the work and priority queues feed
 * worker environments (separate processes with real deadlines) through event source mappings with
 * the stage's batch size, window and maxConcurrency; the schedules run the token refresher and the
 * completion sweeper (an environment of its own, like the worker's).
 */
export class LocalRunner {
  readonly workerPool: FunctionPool;
  readonly exporterPool: FunctionPool;
  readonly sweeperPool: FunctionPool;
  readonly workPoller: TwinEventSourceMapping;
  readonly priorityPoller: TwinEventSourceMapping;
  /** Handler and environment failures (errors, timeouts, crashes, invalid responses), oldest first. */
  readonly errors: RunnerError[] = [];
  private readonly errorListeners: ((error: RunnerError) => void)[] = [];
  private readonly invocationListeners: ((invocation: MappingInvocation) => void)[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly store: JobStore;

  constructor(
    private readonly stack: LocalStack,
    private readonly handlers: LocalHandlers,
    options: LocalRunnerOptions = {},
  ) {
    const config = loadConfig(stack.env);
    const { sizing } = stack;
    this.store = new JobStore(createAwsClients(config).dynamo, config.TABLE_NAME, { retentionDays: 1 });
    const report = (error: RunnerError) => this.report(error);
    this.workerPool = new FunctionPool({
      functionName: 'dnis-sync-worker',
      entry: functionEntry('worker'),
      env: { ...stack.env, ...stack.functionEnv.worker },
      timeoutMs: sizing.timeoutMs.worker,
      memoryMb: sizing.config.worker.memoryMb,
      ...(options.maxInvocationsPerInstance ? { maxInvocationsPerInstance: options.maxInvocationsPerInstance } : {}),
      ...(options.retireRate ? { retireRate: options.retireRate } : {}),
      ...(options.random ? { random: options.random } : {}),
    });
    this.exporterPool = new FunctionPool({
      functionName: 'dnis-sync-exporter',
      entry: functionEntry('exporter'),
      env: { ...stack.env, ...stack.functionEnv.exporter },
      timeoutMs: sizing.timeoutMs.exporter,
      memoryMb: sizing.config.exporter.memoryMb,
    });
    this.sweeperPool = new FunctionPool({
      functionName: 'dnis-sync-sweeper',
      entry: functionEntry('sweeper'),
      env: { ...stack.env },
      timeoutMs: sizing.timeoutMs.sweeper,
      memoryMb: sizing.config.parser.memoryMb,
    });
    const onInvocation = (invocation: MappingInvocation) => {
      for (const listener of this.invocationListeners) listener(invocation);
    };
    this.workPoller = new TwinEventSourceMapping({
      sqs: stack.sqs,
      queueUrl: stack.queues.work.url,
      queueArn: stack.queues.work.arn,
      pool: this.workerPool,
      sizing: sizing.queues.work,
      onInvocation,
      onError: report,
    });
    this.priorityPoller = new TwinEventSourceMapping({
      sqs: stack.sqs,
      queueUrl: stack.queues.priority.url,
      queueArn: stack.queues.priority.arn,
      pool: this.workerPool,
      sizing: sizing.queues.priority,
      onInvocation,
      onError: report,
    });
    // The bus rule: requests from allowed sources reach the intake function, as EventBridge delivers them.
    const allowed = new Set(config.EVENT_SOURCES);
    stack.json.subscribers.push(async (event) => {
      if (event.detailType === DETAIL_TYPES.reassignmentRequested && allowed.has(event.source) && handlers.intake) {
        await handlers.intake(event.envelope, lambdaContext('dnis-sync-reassign-intake', sizing.timeoutMs.intake));
      }
    });
  }

  /** Called with every handler or environment failure as it happens (the same entries as `errors`). */
  onError(listener: (error: RunnerError) => void): () => void {
    this.errorListeners.push(listener);
    return () => this.errorListeners.splice(this.errorListeners.indexOf(listener) >>> 0, 1);
  }

  /** Called after every worker invocation the event source mappings make, with its batch and outcome. */
  onInvocation(listener: (invocation: MappingInvocation) => void): () => void {
    this.invocationListeners.push(listener);
    return () => this.invocationListeners.splice(this.invocationListeners.indexOf(listener) >>> 0, 1);
  }

  /**
   * Starts the event source mappings and, like the schedules, the token refresher (every scaled
   * `refresherEveryMinutes`) and the completion sweeper (every scaled sweep interval).
   */
  start(refreshEveryMs = this.stack.sizing.refreshEveryMs, sweepEveryMs = this.stack.sizing.sweepEveryMs): void {
    this.workPoller.start();
    this.priorityPoller.start();
    // reservedConcurrency 1 on AWS: a tick while a sweep is still running is skipped.
    this.sweepTimer = setInterval(() => {
      this.sweeping ??= this.sweeperPool
        .invoke({})
        .then((outcome) => {
          if (outcome.status !== 'ok') this.report({ fn: this.sweeperPool.functionName, message: outcome.message });
        })
        .finally(() => {
          this.sweeping = undefined;
        });
    }, sweepEveryMs);
    if (this.handlers.refresher) {
      const refresh = () =>
        void this.handlers
          .refresher?.({}, lambdaContext('dnis-sync-token-refresher', this.stack.sizing.timeoutMs.refresher))
          .catch((error: unknown) => this.report({ fn: 'dnis-sync-token-refresher', message: (error as Error).message }));
      refresh();
      this.refreshTimer = setInterval(refresh, refreshEveryMs);
    }
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.all([this.workPoller.stop(), this.priorityPoller.stop()]);
    await Promise.all([this.workerPool.stop(), this.exporterPool.stop(), this.sweeperPool.stop()]);
  }

  /** What the daily schedule does: export every number and its routing, with the drift report. */
  async runExport(): Promise<{ manifest: Record<string, unknown>; files: Record<string, string> }> {
    const outcome = await this.exporterPool.invoke({});
    if (outcome.status !== 'ok') {
      this.report({ fn: this.exporterPool.functionName, message: outcome.message });
      throw (outcome.status === 'error' && outcome.error && rebuiltError(outcome.error)) || new Error(`the export failed: ${outcome.message}`);
    }
    const manifest = outcome.value as Record<string, unknown> & { files: Record<string, string> };
    const bucket = this.stack.env.BUCKET_NAME as string;
    const files: Record<string, string> = {};
    for (const key of Object.values(manifest.files)) {
      const object = await this.stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      files[key.split('/').at(-1) as string] = (await object.Body?.transformToString('utf-8')) ?? '';
    }
    return { manifest, files };
  }

  private report(error: RunnerError): void {
    this.errors.push(error);
    for (const listener of this.errorListeners) listener(error);
  }

  /** Puts a reassignment request on the bus and waits for its answer event. */
  async reassign(detail: Record<string, unknown>, timeoutMs = 120_000): Promise<{ detailType: string; detail: Record<string, unknown> }> {
    const events = this.stack.json.events;
    const before = events.length;
    const { EventBridgeClient, PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
    const client = new EventBridgeClient({ region: 'us-east-1', endpoint: this.stack.env.AWS_ENDPOINT_URL_EVENTBRIDGE, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const put = await client.send(
      new PutEventsCommand({ Entries: [{ EventBusName: this.stack.env.EVENT_BUS_NAME, Source: 'dnis-sync.local', DetailType: DETAIL_TYPES.reassignmentRequested, Detail: JSON.stringify(detail) }] }),
    );
    const requestId = put.Entries?.[0]?.EventId;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const answer = events.slice(before).find((e) => ANSWER_DETAIL_TYPES.includes(e.detailType) && (e.detail as { requestId?: string }).requestId === requestId);
      if (answer) return { detailType: answer.detailType, detail: answer.detail as Record<string, unknown> };
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error('no answer to the reassignment request in time');
  }

  /**
   * Makes a plan saved by an earlier local run known to this one, as the plan run left it in AWS:
   * plan.json at its key beside the plan's reports, and its PLAN# record (with the earlier apply,
   * if one is known, so the pipeline's own apply-once check answers). Then an approval object put
   * with runFile(`approved/<planId>.json`) applies it.
   */
  async importPlan(plan: { planId: string; jobId: string; createdAt: string; expiresAt: string; source: { key: string } }, text: string, applied?: { jobId: string; approvedBy: string; reason: string; at: string }): Promise<void> {
    const { planKeyOf } = await import('../../shared/jobs/savePlan');
    const { safeRelativePath, modeOf } = await import('../../shared/parser/ingestObject');
    const relative = modeOf(plan.source.key)?.relative ?? plan.source.key;
    const planKey = planKeyOf({ resultsPrefix: `results/${safeRelativePath(relative.replace(/\.csv$/i, ''))}/${plan.jobId}` });
    const bucket = this.stack.env.BUCKET_NAME as string;
    await this.stack.s3.send(new PutObjectCommand({ Bucket: bucket, Key: planKey, Body: text, ContentType: 'application/json' }));
    await this.store.putPlanRecord({ planId: plan.planId, planKey, planJobId: plan.jobId, createdAt: plan.createdAt, expiresAt: plan.expiresAt });
    if (applied) await this.store.claimPlanApply(plan.planId, applied.jobId, { approvedBy: applied.approvedBy, reason: applied.reason, key: `approved/${plan.planId}.json`, at: applied.at });
  }

  /** An object of the local bucket as text (a saved plan, a report). */
  async readObject(key: string): Promise<string> {
    const object = await this.stack.s3.send(new GetObjectCommand({ Bucket: this.stack.env.BUCKET_NAME as string, Key: key }));
    return (await object.Body?.transformToString('utf-8')) ?? '';
  }

  /** Uploads a file; S3's notification invokes the parser. Resolves when the job's reports exist. */
  async runFile(key: string, body: Buffer, progress: (line: string) => void = () => undefined): Promise<FileOutcome> {
    const bucket = this.stack.env.BUCKET_NAME as string;
    const put =
      body.length > 8 * 1024 * 1024
        ? await new Upload({ client: this.stack.s3, params: { Bucket: bucket, Key: key, Body: body } }).done()
        : await this.stack.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }));
    const event = s3ObjectCreatedEvent(bucket, key, { size: body.length, eTag: put.ETag, versionId: put.VersionId });
    const results = (await this.handlers.parser(event, lambdaContext('dnis-sync-parser', this.stack.sizing.timeoutMs.parser))) as IngestResult[];
    const result = results[0];
    if (!result || result.status === 'ignored') throw new Error(`the parser ignored ${key}`);
    const jobId = result.jobId;
    let job: JobMeta | undefined;
    for (;;) {
      job = await this.store.getJob(jobId);
      if (job) progress(progressLine(job));
      if (job && (job.status === 'failed' || (job.status === 'completed' && job.reportedVersion >= job.outcomeVersion))) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const keys = reportKeys(job);
    const read = async (objectKey: string) => {
      const object = await this.stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
      return (await object.Body?.transformToString('utf-8')) ?? '';
    };
    const summaryText = await read(keys.summary);
    const summary = JSON.parse(summaryText) as JobSummary;
    return {
      jobId,
      summary,
      reports: { 'results.csv': await read(keys.results), 'failed.csv': await read(keys.failed), 'summary.json': summaryText },
      table: summaryTable(summary),
    };
  }
}

function progressLine(job: JobMeta): string {
  if (job.status === 'parsing') return 'parsing...';
  if (job.status === 'failed') return `file refused: ${job.fileError}`;
  const done = job.processed + job.rejected;
  const total = job.total || 1;
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${job.total} rows  ${job.apiCalls} RingCX calls`;
}

export function summaryTable(summary: JobSummary): string {
  const rows = Object.entries(summary.outcomes);
  const width = Math.max(7, ...rows.map(([name]) => name.length));
  const lines = [
    `${summary.source.key}: ${summary.status}${summary.fileError ? ` (${summary.fileError})` : ''}`,
    `  ${'outcome'.padEnd(width)}  rows`,
    ...rows.map(([name, count]) => `  ${name.padEnd(width)}  ${String(count).padStart(4)}`),
    `  ${'total'.padEnd(width)}  ${String(summary.rows.total).padStart(4)}   (${summary.apiCalls} RingCX calls, ${(summary.durationMs / 1000).toFixed(1)} s)`,
  ];
  return lines.join('\n');
}

/** A RingCX failure from an environment, as the error it was there, so callers can tell what failed. */
function rebuiltError(error: HostError): Error | undefined {
  if (error.name === 'RingCxAuthError') return new RingCxAuthError(error.message);
  if (!error.ringcx) return undefined;
  const { causeCodes, ...fields } = error.ringcx;
  const cause = causeCodes.reduceRight<unknown>((inner, code) => Object.assign(new Error(code), { code, cause: inner }), undefined);
  return new RingCxError({ ...fields, cause });
}
