import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityBatchCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Upload } from '@aws-sdk/lib-storage';
import type { Context, S3Event, SQSBatchResponse } from 'aws-lambda';
import { createAwsClients } from '../../shared/aws/clients';
import { loadConfig } from '../../shared/config';
import { hasFinished } from '../../shared/jobs/completion';
import { reportKeys, type JobSummary } from '../../shared/jobs/reports';
import type { IngestResult } from '../../shared/parser/uploadedObject';
import { JobStore, type JobMeta } from '../../shared/store/jobStore';
import type { LocalStack } from '../stack';
import { type MappingInvocation, TwinEventSourceMapping } from '../twin/eventSourceMapping';
import { FunctionPool } from '../twin/functionPool';
import type { QueueSizing } from '../twin/sizing';
import { InProcessFunction } from './inProcessFunction';
import { progressLine, summaryTable } from './jobText';
import { functionEntry } from './functionEntry';
import { lambdaContext, s3ObjectCreatedEvent } from './lambdaEvents';

export type ParserHandler = (event: S3Event, context: Context) => Promise<unknown>;
export type WorkerHandler = (event: unknown, context: Context) => Promise<SQSBatchResponse | void>;

/** How SQS batches reach the worker. Everything else the driver does is the same in both modes. */
export type WorkerDelivery =
  | {
      /**
       * The handler called in this process (fast, and it shares module state with the caller).
       * Batches are small and the window short, one in flight per queue, and records a batch did
       * not settle are made visible again at once instead of after the visibility timeout: the
       * same receive counting and redrive, without the wait.
       */
      mode: 'in-process';
      handler: WorkerHandler;
      /** The deadline the invocation's context reports; default 60 s, not enforced in this process. */
      timeoutMs?: number;
      /** The work mapping's batch size; default 50 (the priority mapping's is 10). */
      batchSize?: number;
      /** The bulk mapping's batch size; default 500. */
      bulkBatchSize?: number;
      /** The bulk mapping's batching window; default 200 ms. A batch as large as the stage's needs the stage's window to fill. */
      bulkBatchWindowMs?: number;
    }
  | {
      /** Environments as separate processes with real deadlines, sized as the deployed stage (local/twin). */
      mode: 'twin';
      /** Environments are replaced after this many invocations, so cold starts happen in every run. */
      maxInvocationsPerInstance?: number;
      /** Chance an environment is retired after an invocation. */
      retireRate?: number;
      random?: () => number;
    };

export interface LocalDriverOptions {
  /** Invoked in this process with the S3 event; a caller that wants it elsewhere wraps it. */
  parser: ParserHandler;
  worker: WorkerDelivery;
}

export interface DriverError {
  fn: string;
  message: string;
}

export type QueueName = 'work' | 'bulk' | 'priority';
/** Where rows wait: a delivery of `rows` takes a bulk batch, or a work batch when the bulk queue gives nothing. */
export type DeliveryQueue = QueueName | 'rows';
const ROW_QUEUES = ['bulk', 'work'] as const;

export interface DeliveryOptions {
  /** This delivery's batch size instead of the mapping's. */
  batchSize?: number;
  /** In-process delivery only: the deadline this invocation's context reports (not enforced in-process). */
  timeoutMs?: number;
  /** In-process delivery only: the invocation is killed (ends as timed out) after this long; see InProcessFunction. */
  killAfterMs?: number;
}

export interface DrainOptions extends DeliveryOptions {
  /** Stop after this many batches even if the queue still gives messages. */
  maxBatches?: number;
}

export interface WaitOptions {
  /** Give up (and throw, with the latest errors) after this long; default: wait as long as it takes. */
  timeoutMs?: number;
  /** Called with every reading of the job while it runs. */
  onProgress?: (line: string, job: JobMeta) => void;
}

export interface FileOutcome {
  jobId: string;
  summary: JobSummary;
  reports: Record<'results.csv' | 'failed.csv' | 'summary.json', string>;
  table: string;
}

/** Files above this go up in parts, as the console and the CLI send them. */
const MULTIPART_THRESHOLD_BYTES = 8 * 1024 * 1024;
const PART_SIZE_BYTES = 5 * 1024 * 1024;
const IN_PROCESS_TIMEOUT_MS = 60_000;
const IN_PROCESS_SIZING = { work: { batchSize: 50, batchWindowMs: 200 }, bulk: { batchSize: 500, batchWindowMs: 200 }, priority: { batchSize: 10, batchWindowMs: 50 } } as const;
const JOB_POLL_MS = 250;

/**
 * The one driver of the local pipeline, for `npm start` (through LocalRunner), the tests, the
 * bench and the chaos run: it puts a file in the bucket (in parts when large), invokes the parser
 * with the S3 notification's exact shape, delivers the work, bulk and priority queues to the worker
 * through the twin's event source mapping (the worker in this process or in environments of its
 * own: `options.worker.mode`), and waits for a job to finish. What callers observe goes through
 * its public methods: every invocation (`onInvocation`), every failure (`errors`, `onError`), the
 * batch one delivery made (`pollOnce`), queue depths and the job's record.
 */
export class LocalDriver {
  /** The worker's environments: forked processes on the twin, this process in-process. */
  readonly workerPool: FunctionPool;
  /** Handler, environment and delivery failures (errors, timeouts, crashes, invalid responses), oldest first. */
  readonly errors: DriverError[] = [];
  readonly bucket: string;
  private readonly sizing: Record<QueueName, QueueSizing>;
  private readonly mappings: Record<QueueName, TwinEventSourceMapping>;
  private readonly errorListeners: ((error: DriverError) => void)[] = [];
  private readonly invocationListeners: ((invocation: MappingInvocation) => void)[] = [];
  /** Failed records being made visible again (in-process delivery). */
  private readonly reshowing = new Set<Promise<void>>();
  private readonly store: JobStore;

  constructor(
    readonly stack: LocalStack,
    private readonly options: LocalDriverOptions,
  ) {
    const config = loadConfig(stack.env);
    this.store = new JobStore(createAwsClients(config).dynamo, config.TABLE_NAME, { retentionDays: 1 });
    this.bucket = stack.env.BUCKET_NAME as string;
    const worker = options.worker;
    const { sizing } = stack;
    if (worker.mode === 'twin') {
      this.workerPool = new FunctionPool({
        functionName: 'dnis-sync-worker',
        entry: functionEntry('worker'),
        env: { ...stack.env, ...stack.functionEnv.worker },
        timeoutMs: sizing.timeoutMs.worker,
        memoryMb: sizing.config.worker.memoryMb,
        ...(worker.maxInvocationsPerInstance ? { maxInvocationsPerInstance: worker.maxInvocationsPerInstance } : {}),
        ...(worker.retireRate ? { retireRate: worker.retireRate } : {}),
        ...(worker.random ? { random: worker.random } : {}),
      });
      this.sizing = sizing.queues;
    } else {
      this.workerPool = this.inProcessWorker();
      this.sizing = {
        work: { ...sizing.queues.work, ...IN_PROCESS_SIZING.work, maxConcurrency: 1, ...(worker.batchSize ? { batchSize: worker.batchSize } : {}) },
        bulk: {
          ...sizing.queues.bulk,
          ...IN_PROCESS_SIZING.bulk,
          maxConcurrency: 1,
          ...(worker.bulkBatchSize ? { batchSize: worker.bulkBatchSize } : {}),
          ...(worker.bulkBatchWindowMs ? { batchWindowMs: worker.bulkBatchWindowMs } : {}),
        },
        priority: { ...sizing.queues.priority, ...IN_PROCESS_SIZING.priority, maxConcurrency: 1 },
      };
    }
    this.mappings = {
      work: this.mapping('work', this.sizing.work, this.workerPool),
      bulk: this.mapping('bulk', this.sizing.bulk, this.workerPool),
      priority: this.mapping('priority', this.sizing.priority, this.workerPool),
    };
  }

  get mode(): WorkerDelivery['mode'] {
    return this.options.worker.mode;
  }

  /** Called with every failure as it happens (the same entries as `errors`). */
  onError(listener: (error: DriverError) => void): () => void {
    this.errorListeners.push(listener);
    return () => this.errorListeners.splice(this.errorListeners.indexOf(listener) >>> 0, 1);
  }

  /** Called after every worker invocation a mapping makes, with its batch and outcome. */
  onInvocation(listener: (invocation: MappingInvocation) => void): () => void {
    this.invocationListeners.push(listener);
    return () => this.invocationListeners.splice(this.invocationListeners.indexOf(listener) >>> 0, 1);
  }

  /** Records a failure of a function the caller runs (the runner's exporter, sweeper, refresher). */
  reportError(error: DriverError): void {
    this.errors.push(error);
    for (const listener of this.errorListeners) listener(error);
  }

  /** Starts the three event source mappings polling on their own. */
  start(): void {
    for (const mapping of Object.values(this.mappings)) mapping.start();
  }

  /** Resolves once no worker invocation is in flight on any mapping (each one ended and was reported). */
  async whenIdle(): Promise<void> {
    await Promise.all(Object.values(this.mappings).map((mapping) => mapping.whenIdle()));
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.mappings).map((mapping) => mapping.stop()));
    await this.reshown();
    await this.workerPool.stop();
  }

  /** Puts a file in the bucket (in parts above 8 MiB) and returns the notification S3 sends for it. */
  async upload(key: string, body: string | Buffer): Promise<S3Event> {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const put =
      bytes.length > MULTIPART_THRESHOLD_BYTES
        ? await new Upload({ client: this.stack.s3, params: { Bucket: this.bucket, Key: key, Body: bytes }, partSize: PART_SIZE_BYTES }).done()
        : await this.stack.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: bytes, ContentLength: bytes.length }));
    return s3ObjectCreatedEvent(this.bucket, key, { size: bytes.length, eTag: put.ETag, versionId: put.VersionId });
  }

  /** Invokes the parser with the notification, `copies` times at once (S3 delivers at least once). */
  async parse(event: S3Event, copies = 1): Promise<IngestResult[]> {
    const context = () => lambdaContext('dnis-sync-parser', this.stack.sizing.timeoutMs.parser);
    const results = await Promise.all(Array.from({ length: copies }, () => this.options.parser(event, context())));
    return results.flat() as IngestResult[];
  }

  /** Upload, then the parser: what putting a file in the bucket sets off on AWS. */
  async submit(key: string, body: string | Buffer, copies = 1): Promise<IngestResult[]> {
    return this.parse(await this.upload(key, body), copies);
  }

  /**
   * Receives one batch from the queue and invokes the worker with it, as the mapping would; the
   * invocation it made (batch, outcome, deleted ids), or undefined when the queue gave nothing.
   * For callers that step delivery by hand instead of `start()`. `rows` (the default): a bulk
   * batch, or a work batch when the bulk queue gives nothing.
   */
  async pollOnce(queue: DeliveryQueue = 'rows', options: DeliveryOptions = {}): Promise<MappingInvocation | undefined> {
    if (queue === 'rows') {
      for (const rowQueue of ROW_QUEUES) {
        const delivered = await this.pollOnce(rowQueue, options);
        if (delivered) return delivered;
      }
      return undefined;
    }
    const { batchSize, timeoutMs, killAfterMs } = options;
    const ownInvocation = timeoutMs !== undefined || killAfterMs !== undefined;
    if (ownInvocation && this.mode !== 'in-process') throw new Error('per-delivery deadlines need in-process delivery; twin environments keep the stage timeout');
    const sizing = { ...this.sizing[queue], ...(batchSize ? { batchSize } : {}) };
    const pool = ownInvocation ? this.inProcessWorker(timeoutMs, killAfterMs) : this.workerPool;
    let delivered: MappingInvocation | undefined;
    await this.mapping(queue, sizing, pool, (invocation) => (delivered = invocation)).pollOnce();
    await this.reshown();
    return delivered;
  }

  /** Delivers batches until the queue (by default both row queues) gives nothing, or `maxBatches`; the number delivered. */
  async drain(queue: DeliveryQueue = 'rows', options: DrainOptions = {}): Promise<number> {
    const maxBatches = options.maxBatches ?? (queue === 'priority' ? 100 : 1_000);
    let batches = 0;
    while (batches < maxBatches && (await this.pollOnce(queue, options))) batches += 1;
    return batches;
  }

  /** Visible plus in-flight messages. */
  async queueDepth(queueUrl: string): Promise<number> {
    const attributes = await this.stack.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  async job(jobId: string): Promise<JobMeta | undefined> {
    return this.store.getJob(jobId);
  }

  /** Resolves with the job once it failed, or completed with every row's outcome in its reports. */
  async waitForJob(jobId: string, options: WaitOptions = {}): Promise<JobMeta> {
    const deadline = Date.now() + (options.timeoutMs ?? Number.POSITIVE_INFINITY);
    for (;;) {
      const job = await this.store.getJob(jobId);
      if (job) options.onProgress?.(progressLine(job), job);
      if (job && hasFinished(job)) return job;
      if (Date.now() > deadline) {
        const state = job && { status: job.status, processed: job.processed, total: job.total };
        throw new Error(`job ${jobId} not finished after ${options.timeoutMs} ms: ${JSON.stringify(state)}; errors ${JSON.stringify(this.errors.slice(-5))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
    }
  }

  /** A finished job's three reports and its summary table. */
  async outcome(job: JobMeta): Promise<FileOutcome> {
    const keys = reportKeys(job);
    const read = async (key: string) => (await this.readObject(key)) ?? '';
    const summaryText = await read(keys.summary);
    const summary = JSON.parse(summaryText) as JobSummary;
    return {
      jobId: job.jobId,
      summary,
      reports: { 'results.csv': await read(keys.results), 'failed.csv': await read(keys.failed), 'summary.json': summaryText },
      table: summaryTable(summary),
    };
  }

  /**
   * Uploads a file, runs the parser on it and resolves with the job's reports once it finishes.
   * Someone must deliver the queues meanwhile: `start()`, as `npm start` does.
   */
  async runFile(key: string, body: string | Buffer, progress: (line: string) => void = () => undefined): Promise<FileOutcome> {
    const [result] = await this.submit(key, body);
    if (!result || result.status === 'ignored') throw new Error(`the parser ignored ${key}`);
    return this.outcome(await this.waitForJob(result.jobId, { onProgress: progress }));
  }

  /** An object of the local bucket as text; undefined when there is no such key. */
  async readObject(key: string): Promise<string | undefined> {
    try {
      const object = await this.stack.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return (await object.Body?.transformToString('utf-8')) ?? '';
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  private inProcessWorker(timeoutMs?: number, killAfterMs?: number): InProcessFunction {
    const worker = this.options.worker;
    if (worker.mode !== 'in-process') throw new Error('the worker runs on the twin');
    return new InProcessFunction({
      functionName: 'dnis-sync-worker',
      entryName: 'worker',
      handler: worker.handler,
      timeoutMs: timeoutMs ?? worker.timeoutMs ?? IN_PROCESS_TIMEOUT_MS,
      ...(killAfterMs !== undefined ? { killAfterMs } : {}),
    });
  }

  private mapping(queue: QueueName, sizing: QueueSizing, pool: FunctionPool, onDelivered?: (invocation: MappingInvocation) => void): TwinEventSourceMapping {
    const { url, arn } = this.stack.queues[queue];
    return new TwinEventSourceMapping({
      sqs: this.stack.sqs,
      queueUrl: url,
      queueArn: arn,
      pool,
      sizing,
      onInvocation: (invocation) => {
        if (this.mode === 'in-process') this.reshow(invocation);
        onDelivered?.(invocation);
        for (const listener of this.invocationListeners) listener(invocation);
      },
      onError: (error) => this.reportError(error),
    });
  }

  /** In-process delivery: the records an invocation did not settle are visible again at once. */
  private reshow(invocation: MappingInvocation): void {
    const deleted = new Set(invocation.deleted);
    const failed = invocation.messages.filter((m) => !deleted.has(m.MessageId ?? ''));
    if (failed.length === 0) return;
    const done = (async () => {
      for (let i = 0; i < failed.length; i += 10) {
        await this.stack.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: invocation.queueUrl,
            Entries: failed.slice(i, i + 10).map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '', VisibilityTimeout: 0 })),
          }),
        );
      }
    })()
      .catch((error: unknown) => this.reportError({ fn: this.workerPool.functionName, message: `making failed records visible again: ${(error as Error).message}` }))
      .finally(() => this.reshowing.delete(done));
    this.reshowing.add(done);
  }

  private async reshown(): Promise<void> {
    await Promise.all([...this.reshowing]);
  }
}
