import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { createAwsClients } from '../../shared/aws/clients';
import { loadConfig } from '../../shared/config';
import { DETAIL_TYPES } from '../../shared/contracts';
import { JobStore } from '../../shared/store/jobStore';
import { RingCxAuthError, RingCxError } from '../../shared/ringcx/errors';
import type { LocalStack } from '../stack';
import { type MappingInvocation, TwinEventSourceMapping } from '../twin/eventSourceMapping';
import { FunctionPool } from '../twin/functionPool';
import type { HostError } from '../twin/protocol';
import { type DriverError, type FileOutcome, LocalDriver, type ParserHandler, type WorkerDelivery } from './driver';
import { functionEntry } from './functionEntry';
import { lambdaContext } from './lambdaEvents';

export type { FileOutcome } from './driver';
export { summaryTable } from './jobText';

/** The functions that run in this process; the worker, the exporter and the sweeper run in environments of their own. */
export interface LocalHandlers {
  /** Invoked with the S3 event (bench/run.ts wraps an environment of its own). */
  parser: ParserHandler;
  intake?: (event: unknown, context: Context) => Promise<unknown>;
  refresher?: (event: unknown, context: Context) => Promise<unknown>;
}

/** The two answers a reassignment request gets. */
const ANSWER_DETAIL_TYPES: readonly string[] = [DETAIL_TYPES.reassigned, DETAIL_TYPES.reassignmentFailed];

export type LocalRunnerOptions = Omit<Extract<WorkerDelivery, { mode: 'twin' }>, 'mode'>;

/** A failure the runner reports: the driver's, or one of the scheduled functions'. */
export type RunnerError = DriverError;

/**
 * AWS's event delivery, locally, with the deployed stack's sizing (local/twin/sizing.ts): the
 * driver (./driver.ts) puts files in the bucket, invokes the parser with the S3 event shape and
 * feeds the work, bulk and priority queues to worker environments (separate processes with real
 * deadlines) through event source mappings with the stage's batch size, window, maxConcurrency
 * and Lambda's 6 MB event cap. Around it, what `npm start` adds: the schedules run the token refresher and the
 * completion sweeper (an environment of its own, like the worker's), the exporter runs on demand,
 * and the bus rule hands reassignment requests to the intake.
 */
export class LocalRunner {
  readonly driver: LocalDriver;
  readonly exporterPool: FunctionPool;
  readonly sweeperPool: FunctionPool;
  /** The exports queue's mapping: an export longer than one invocation continues through it. */
  readonly exportMapping: TwinEventSourceMapping;
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
    this.driver = new LocalDriver(stack, { parser: handlers.parser, worker: { mode: 'twin', ...options } });
    this.exporterPool = new FunctionPool({
      functionName: 'dnis-sync-exporter',
      entry: functionEntry('exporter'),
      env: { ...stack.env, ...stack.functionEnv.exporter },
      timeoutMs: sizing.timeoutMs.exporter,
      memoryMb: sizing.config.exporter.memoryMb,
    });
    // As the stack maps it: batches of one, one invocation at a time (the exporter's reserved concurrency).
    this.exportMapping = new TwinEventSourceMapping({
      sqs: stack.sqs,
      queueUrl: stack.queues.exports.url,
      queueArn: stack.queues.exports.arn,
      pool: this.exporterPool,
      sizing: { batchSize: 1, batchWindowMs: 0, maxConcurrency: 1, visibilityTimeoutMs: 6 * sizing.timeoutMs.exporter, maxPayloadBytes: sizing.queues.work.maxPayloadBytes },
      onError: (error) => this.report(error),
    });
    this.sweeperPool = new FunctionPool({
      functionName: 'dnis-sync-sweeper',
      entry: functionEntry('sweeper'),
      env: { ...stack.env },
      timeoutMs: sizing.timeoutMs.sweeper,
      memoryMb: sizing.config.parser.memoryMb,
    });
    // The bus rule: requests from allowed sources reach the intake function, as EventBridge delivers them.
    const allowed = new Set(config.EVENT_SOURCES);
    stack.json.subscribers.push(async (event) => {
      if (event.detailType === DETAIL_TYPES.reassignmentRequested && allowed.has(event.source) && handlers.intake) {
        await handlers.intake(event.envelope, lambdaContext('dnis-sync-reassign-intake', sizing.timeoutMs.intake));
      }
    });
  }

  /** The worker's environments (forked processes): chaos runs kill them, runs read their stats. */
  get workerPool(): FunctionPool {
    return this.driver.workerPool;
  }

  /** Handler and environment failures (errors, timeouts, crashes, invalid responses), oldest first. */
  get errors(): readonly RunnerError[] {
    return this.driver.errors;
  }

  /** Called with every handler or environment failure as it happens (the same entries as `errors`). */
  onError(listener: (error: RunnerError) => void): () => void {
    return this.driver.onError(listener);
  }

  /** Called after every worker invocation the event source mappings make, with its batch and outcome. */
  onInvocation(listener: (invocation: MappingInvocation) => void): () => void {
    return this.driver.onInvocation(listener);
  }

  /**
   * Starts the event source mappings and, like the schedules, the token refresher (every scaled
   * `refresherEveryMinutes`) and the completion sweeper (every scaled sweep interval).
   */
  start(refreshEveryMs = this.stack.sizing.refreshEveryMs, sweepEveryMs = this.stack.sizing.sweepEveryMs): void {
    this.driver.start();
    this.exportMapping.start();
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

  /**
   * Resolves once no worker or export continuation invocation is in flight (each one ended and was
   * reported). A job or an export is done when its last record is written, which can be before the
   * invocation that wrote it has returned: counts of invocations wait here first.
   */
  async whenIdle(): Promise<void> {
    await Promise.all([this.driver.whenIdle(), this.exportMapping.whenIdle()]);
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.all([this.driver.stop(), this.exportMapping.stop()]);
    await Promise.all([this.exporterPool.stop(), this.sweeperPool.stop()]);
  }

  /** What the daily schedule does: export every number and its routing, with the drift report. */
  async runExport(): Promise<{ manifest: Record<string, unknown>; files: Record<string, string> }> {
    const outcome = await this.exporterPool.invoke({});
    if (outcome.status !== 'ok') {
      this.report({ fn: this.exporterPool.functionName, message: outcome.message });
      throw (outcome.status === 'error' && outcome.error && rebuiltError(outcome.error)) || new Error(`the export failed: ${outcome.message}`);
    }
    let manifest = outcome.value as Record<string, unknown> & { files: Record<string, string> };
    // An export longer than one invocation goes on from the exports queue; its last invocation writes the manifest.
    if (manifest.status === 'continuing') manifest = await this.exportManifest(manifest.files.manifest as string);
    const files: Record<string, string> = {};
    for (const key of Object.values(manifest.files)) files[key.split('/').at(-1) as string] = await this.readObject(key);
    return { manifest, files };
  }

  /** Waits for an export's manifest (its last invocation writes it), reporting failures of the continuations meanwhile. */
  async exportManifest(key: string, timeoutMs = 24 * 3_600_000): Promise<Record<string, unknown> & { files: Record<string, string> }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = await this.driver.readObject(key);
      if (text !== undefined) return JSON.parse(text) as Record<string, unknown> & { files: Record<string, string> };
      if (Date.now() > deadline) throw new Error(`no export manifest ${key} after ${timeoutMs} ms; errors ${JSON.stringify(this.errors.slice(-5))}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  private report(error: RunnerError): void {
    this.driver.reportError(error);
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
    const { safeRelativePath, modeOf } = await import('../../shared/parser/uploadedObject');
    const relative = modeOf(plan.source.key)?.relative ?? plan.source.key;
    const planKey = planKeyOf({ resultsPrefix: `results/${safeRelativePath(relative.replace(/\.csv$/i, ''))}/${plan.jobId}` });
    const bucket = this.stack.env.BUCKET_NAME as string;
    await this.stack.s3.send(new PutObjectCommand({ Bucket: bucket, Key: planKey, Body: text, ContentType: 'application/json' }));
    await this.store.putPlanRecord({ planId: plan.planId, planKey, planJobId: plan.jobId, createdAt: plan.createdAt, expiresAt: plan.expiresAt });
    if (applied) await this.store.claimPlanApply(plan.planId, applied.jobId, { approvedBy: applied.approvedBy, reason: applied.reason, key: `approved/${plan.planId}.json`, at: applied.at });
  }

  /** An object of the local bucket as text (a saved plan, a report). */
  async readObject(key: string): Promise<string> {
    const text = await this.driver.readObject(key);
    if (text === undefined) throw new Error(`no object ${key} in the local bucket`);
    return text;
  }

  /** Uploads a file; S3's notification invokes the parser. Resolves when the job's reports exist. */
  runFile(key: string, body: Buffer, progress: (line: string) => void = () => undefined): Promise<FileOutcome> {
    return this.driver.runFile(key, body, progress);
  }
}

/** A RingCX failure from an environment, as the error it was there, so callers can tell what failed. */
function rebuiltError(error: HostError): Error | undefined {
  if (error.name === 'RingCxAuthError') return new RingCxAuthError(error.message);
  if (!error.ringcx) return undefined;
  const { causeCodes, ...fields } = error.ringcx;
  const cause = causeCodes.reduceRight<unknown>((inner, code) => Object.assign(new Error(code), { code, cause: inner }), undefined);
  return new RingCxError({ ...fields, cause });
}
