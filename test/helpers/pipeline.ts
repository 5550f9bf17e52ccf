import { randomUUID } from 'node:crypto';
import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { inject, vi } from 'vitest';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack';
import { type DeliveryOptions, type DrainOptions, LocalDriver } from '../../local/wiring/driver';
import { LocalRunner, type LocalRunnerOptions } from '../../local/wiring/runner';
import { hasFinished } from '../../shared/jobs/completion';
import type { MappingInvocation } from '../../local/twin/eventSourceMapping';
import type { RingCxSimulator } from '../../local/ringcx-simulator/server';

type ParserHandler = (event: S3Event, context: Context) => Promise<unknown>;
type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
type AnyHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface Pipeline {
  stack: LocalStack;
  bucket: string;
  /** The local driver, delivering to the worker in this process. */
  driver: LocalDriver;
  parser: ParserHandler;
  worker: WorkerHandler;
  intake: AnyHandler;
  exporter: AnyHandler;
  refresher: AnyHandler;
  /** Runs priority-queue batches until it stays empty. */
  drainPriority(maxBatches?: number): Promise<number>;
  /** Uploads a file and returns the S3 event S3 would send for it. */
  putCsv(key: string, body: string | Buffer): Promise<S3Event>;
  runParser(event: S3Event): Promise<unknown>;
  /** Delivers one row batch (bulk queue, else work queue) to the worker; the invocation, or undefined when both gave nothing. */
  pollOnce(options?: DeliveryOptions): Promise<MappingInvocation | undefined>;
  /** Runs worker batches until both row queues (bulk, work) stay empty. */
  drain(options?: DrainOptions): Promise<number>;
  /** Called after every worker invocation, with its batch and outcome. */
  onInvocation(listener: (invocation: MappingInvocation) => void): () => void;
  readObject(key: string): Promise<string | undefined>;
  report(jobResultsPrefix: string): Promise<{ results: string[][]; failed: string; summary: Record<string, unknown> }>;
  queueDepth(url: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The real chain in-process: fauxqs for S3 and SQS, the shared DynamoDB Local, the local JSON
 * services and the RingCX simulator, with the Lambda handlers imported fresh against them and the
 * local driver delivering the queues to the worker in this process.
 */
export async function startPipeline(options: LocalStackOptions & { batchSize?: number; bulkBatchSize?: number; bulkBatchWindowMs?: number; workerTimeoutMs?: number } = {}): Promise<Pipeline> {
  const stack = await startLocalStack({
    dynamoEndpoint: inject('dynamoEndpoint'),
    tableName: `jobs-${randomUUID().slice(0, 8)}`,
    // In-process delivery re-shows failed messages itself; the visibility timeout only bounds a lost batch.
    visibilityTimeoutSeconds: 2,
    ...options,
    // Every function in this one process shares one limiter, which is exact for the tenant's only
    // caller; the shared budget is for separate processes, and the twin's tests run it.
    env: { RINGCX_BUDGET_TABLE: '', ...options.env },
  });
  Object.assign(process.env, stack.env);
  vi.resetModules();
  const parser = (await import('../../functions/parser/app')).handler;
  const worker = (await import('../../functions/worker/app')).handler;
  const intake = (await import('../../functions/reassign-intake/app')).handler;
  const exporter = (await import('../../functions/exporter/app')).handler;
  const refresher = (await import('../../functions/token-refresher/app')).handler;
  // `batchSize` sizes the batches of both row queues, unless the bulk queue's is given apart.
  const bulkBatchSize = options.bulkBatchSize ?? options.batchSize;
  const driver = new LocalDriver(stack, {
    parser,
    worker: {
      mode: 'in-process',
      handler: worker,
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      ...(bulkBatchSize ? { bulkBatchSize } : {}),
      ...(options.bulkBatchWindowMs ? { bulkBatchWindowMs: options.bulkBatchWindowMs } : {}),
      ...(options.workerTimeoutMs ? { timeoutMs: options.workerTimeoutMs } : {}),
    },
  });

  return {
    stack,
    bucket: driver.bucket,
    driver,
    parser,
    worker,
    intake,
    exporter,
    refresher,
    drainPriority: (maxBatches) => driver.drain('priority', maxBatches === undefined ? {} : { maxBatches }),
    putCsv: (key, body) => driver.upload(key, body),
    runParser: (event) => driver.parse(event),
    pollOnce: (delivery) => driver.pollOnce('rows', delivery),
    drain: (drain) => driver.drain('rows', drain),
    onInvocation: (listener) => driver.onInvocation(listener),
    readObject: (key) => driver.readObject(key),
    report: (prefix) => readReports(driver, prefix),
    queueDepth: (url) => driver.queueDepth(url),
    async stop() {
      await driver.stop();
      await stack.stop();
    },
  };
}

async function readReports(driver: LocalDriver, prefix: string) {
  const results = (await driver.readObject(`${prefix}/results.csv`)) ?? '';
  const failed = (await driver.readObject(`${prefix}/failed.csv`)) ?? '';
  const summary = JSON.parse((await driver.readObject(`${prefix}/summary.json`)) ?? '{}') as Record<string, unknown>;
  return { results: parseCsv(results), failed, summary };
}

/** A small RFC 4180 reader for assertions (the system's own reader is under test elsewhere). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell.replace(/\r$/, ''));
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

/** results.csv rows keyed by line number. */
export function byLine(results: string[][]): Map<number, { dnis: string; outcome: string; target: string; detail: string }> {
  const map = new Map<number, { dnis: string; outcome: string; target: string; detail: string }>();
  for (const [line, dnis, outcome, target, detail] of results.slice(1)) {
    map.set(Number(line), { dnis: dnis ?? '', outcome: outcome ?? '', target: target ?? '', detail: detail ?? '' });
  }
  return map;
}

export interface Twin {
  stack: LocalStack;
  runner: LocalRunner;
  sim: RingCxSimulator;
  /** Every worker invocation the event source mappings made, in the order they ended. */
  invocations: MappingInvocation[];
  /** Uploads a file and runs the parser on it (as the S3 notification would); resolves with its job. */
  upload(key: string, csv: string): Promise<{ status: string; jobId: string }>;
  /** The same, with the notification delivered twice at once (S3 delivers at least once). */
  uploadNotifiedTwice(key: string, csv: string): Promise<{ status: string; jobId: string }[]>;
  report: Pipeline['report'];
  /** Waits until the job has every row's outcome and its reports are written. */
  waitForJob(jobId: string, timeoutMs?: number): Promise<void>;
  /**
   * Waits until no worker invocation is in flight, so `invocations` holds every span. A job
   * completes when its last row is recorded, which can be before that invocation has returned.
   */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The local twin for pipeline tests: the stage's sizing (default prod) at a time scale, worker
 * environments as separate processes with real deadlines, the event source mappings running on
 * their own. The parser, intake and refresher run in this process.
 */
export async function startTwin(options: LocalStackOptions & LocalRunnerOptions & { secretJson?: string } = {}): Promise<Twin> {
  const stack = await startLocalStack({
    dynamoEndpoint: inject('dynamoEndpoint'),
    tableName: `jobs-${randomUUID().slice(0, 8)}`,
    stage: 'prod',
    timeScale: 10,
    ...options,
  });
  Object.assign(process.env, stack.env);
  vi.resetModules();
  const parser = (await import('../../functions/parser/app')).handler;
  const intake = (await import('../../functions/reassign-intake/app')).handler;
  const refresher = (await import('../../functions/token-refresher/app')).handler;
  if (options.secretJson) stack.json.setSecret(stack.env.RINGCX_SECRET_ID as string, options.secretJson);
  const { maxInvocationsPerInstance, retireRate, random } = options;
  const runner = new LocalRunner(stack, { parser, intake, refresher }, { maxInvocationsPerInstance, retireRate, random });
  const { driver } = runner;
  const invocations: MappingInvocation[] = [];
  runner.onInvocation((invocation) => invocations.push(invocation));
  runner.start();
  return {
    stack,
    runner,
    sim: stack.simulator as RingCxSimulator,
    invocations,
    async upload(key, csv) {
      const [result] = await driver.submit(key, csv);
      if (!result) throw new Error('parser returned nothing');
      return result as { status: string; jobId: string };
    },
    uploadNotifiedTwice: async (key, csv) => (await driver.submit(key, csv, 2)) as { status: string; jobId: string }[],
    report: (prefix) => readReports(driver, prefix),
    async waitForJob(jobId, timeoutMs = 600_000) {
      await driver.waitForJob(jobId, { timeoutMs });
    },
    settle: () => runner.whenIdle(),
    async stop() {
      await runner.stop();
      await stack.stop();
    },
  };
}
