import { randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { inject, vi } from 'vitest';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack';
import { lambdaContext, s3ObjectCreatedEvent } from '../../local/wiring/lambdaEvents';
import { SqsPoller } from '../../local/wiring/sqsPoller';
import { LocalRunner, type LocalRunnerOptions } from '../../local/wiring/runner';
import type { MappingInvocation } from '../../local/twin/eventSourceMapping';
import type { RingCxSimulator } from '../../local/ringcx-simulator/server';

type ParserHandler = (event: S3Event, context: Context) => Promise<unknown>;
type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
type AnyHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface Pipeline {
  stack: LocalStack;
  bucket: string;
  parser: ParserHandler;
  worker: WorkerHandler;
  workPoller: SqsPoller;
  priorityPoller: SqsPoller;
  intake: AnyHandler;
  exporter: AnyHandler;
  refresher: AnyHandler;
  /** Runs priority-queue batches until it stays empty. */
  drainPriority(maxBatches?: number): Promise<number>;
  /** Uploads a file and returns the S3 event S3 would send for it. */
  putCsv(key: string, body: string | Buffer): Promise<S3Event>;
  runParser(event: S3Event): Promise<unknown>;
  /** Runs worker batches until the work queue stays empty. */
  drain(maxBatches?: number): Promise<number>;
  readObject(key: string): Promise<string | undefined>;
  report(jobResultsPrefix: string): Promise<{ results: string[][]; failed: string; summary: Record<string, unknown> }>;
  queueDepth(url: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The real chain in-process: fauxqs for S3 and SQS, the shared DynamoDB Local, the local JSON
 * services and the RingCX simulator, with the Lambda handlers imported fresh against them.
 */
export async function startPipeline(options: LocalStackOptions & { batchSize?: number } = {}): Promise<Pipeline> {
  const stack = await startLocalStack({
    dynamoEndpoint: inject('dynamoEndpoint'),
    tableName: `jobs-${randomUUID().slice(0, 8)}`,
    // This harness's poller re-shows failed messages itself; the visibility timeout only bounds a lost batch.
    visibilityTimeoutSeconds: 2,
    ...options,
  });
  Object.assign(process.env, stack.env);
  vi.resetModules();
  const parser = (await import('../../functions/parser/app')).handler;
  const worker = (await import('../../functions/worker/app')).handler;
  const intake = (await import('../../functions/reassign-intake/app')).handler;
  const exporter = (await import('../../functions/exporter/app')).handler;
  const refresher = (await import('../../functions/token-refresher/app')).handler;
  const bucket = stack.env.BUCKET_NAME as string;
  const workPoller = new SqsPoller({
    sqs: stack.sqs,
    queueUrl: stack.queues.work.url,
    queueArn: stack.queues.work.arn,
    functionName: 'worker',
    handler: worker,
    batchSize: options.batchSize ?? 50,
    batchWindowMs: 200,
    concurrency: 1,
    // Failed records come back at once instead of after the visibility timeout: same receive
    // counting and redrive, without the wait.
    retryDelayMs: 0,
  });

  const priorityPoller = new SqsPoller({
    sqs: stack.sqs,
    queueUrl: stack.queues.priority.url,
    queueArn: stack.queues.priority.arn,
    functionName: 'worker',
    handler: worker,
    batchSize: 10,
    batchWindowMs: 50,
    concurrency: 1,
    retryDelayMs: 0,
  });

  const readObject = async (key: string) => {
    try {
      const object = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await object.Body?.transformToString('utf-8');
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return undefined;
      throw error;
    }
  };

  return {
    stack,
    bucket,
    parser,
    worker,
    workPoller,
    priorityPoller,
    intake,
    exporter,
    refresher,
    async drainPriority(maxBatches = 100) {
      let batches = 0;
      while (batches < maxBatches && (await priorityPoller.pollOnce())) batches += 1;
      return batches;
    },
    async putCsv(key, body) {
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      // Large files go up in parts, as the console and the CLI send them.
      const put =
        bytes.length > 8 * 1024 * 1024
          ? await new Upload({ client: stack.s3, params: { Bucket: bucket, Key: key, Body: bytes }, partSize: 5 * 1024 * 1024 }).done()
          : await stack.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.length }));
      return s3ObjectCreatedEvent(bucket, key, { size: bytes.length, eTag: put.ETag, versionId: put.VersionId });
    },
    runParser: (event) => parser(event, lambdaContext('parser')),
    async drain(maxBatches = 1_000) {
      let batches = 0;
      while (batches < maxBatches && (await workPoller.pollOnce())) batches += 1;
      return batches;
    },
    readObject,
    async report(prefix) {
      const results = (await readObject(`${prefix}/results.csv`)) ?? '';
      const failed = (await readObject(`${prefix}/failed.csv`)) ?? '';
      const summary = JSON.parse((await readObject(`${prefix}/summary.json`)) ?? '{}') as Record<string, unknown>;
      return { results: parseCsv(results), failed, summary };
    },
    async queueDepth(url) {
      const attributes = await stack.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    },
    stop: () => stack.stop(),
  };
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
  /** The same, with the notification delivered `copies` times at once (S3 delivers at least once). */
  uploadNotifiedTwice(key: string, csv: string): Promise<{ status: string; jobId: string }[]>;
  report: Pipeline['report'];
  /** Waits until the job has every row's outcome and its reports are written. */
  waitForJob(jobId: string, timeoutMs?: number): Promise<void>;
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
  const runner = new LocalRunner(stack, { parser, intake, refresher }, options);
  const invocations: MappingInvocation[] = [];
  runner.onInvocation((invocation) => invocations.push(invocation));
  const { JobStore } = await import('../../shared/store/jobStore');
  const { createAwsClients } = await import('../../shared/aws/clients');
  const { loadConfig } = await import('../../shared/config');
  const config = loadConfig(stack.env);
  const store = new JobStore(createAwsClients(config).dynamo, config.TABLE_NAME, { retentionDays: 1 });
  const bucket = stack.env.BUCKET_NAME as string;
  const notify = async (key: string, csv: string, copies: number) => {
    const bytes = Buffer.from(csv, 'utf8');
    const put = await stack.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.length }));
    const event = s3ObjectCreatedEvent(bucket, key, { size: bytes.length, eTag: put.ETag, versionId: put.VersionId });
    const context = () => lambdaContext('dnis-sync-parser', stack.sizing.timeoutMs.parser);
    const results = await Promise.all(Array.from({ length: copies }, () => parser(event, context())));
    return results.flat() as { status: string; jobId: string }[];
  };
  runner.start();
  return {
    stack,
    runner,
    sim: stack.simulator as RingCxSimulator,
    invocations,
    async upload(key, csv) {
      const [result] = await notify(key, csv, 1);
      if (!result) throw new Error('parser returned nothing');
      return result;
    },
    uploadNotifiedTwice: (key, csv) => notify(key, csv, 2),
    async report(prefix) {
      const read = async (key: string) => {
        const object = await stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await object.Body?.transformToString('utf-8')) ?? '';
      };
      const summary = JSON.parse(await read(`${prefix}/summary.json`)) as Record<string, unknown>;
      return { results: parseCsv(await read(`${prefix}/results.csv`)), failed: await read(`${prefix}/failed.csv`), summary };
    },
    async waitForJob(jobId, timeoutMs = 600_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const job = await store.getJob(jobId);
        if (job && (job.status === 'failed' || (job.status === 'completed' && job.reportedVersion >= job.outcomeVersion))) return;
        if (Date.now() > deadline) throw new Error(`job ${jobId} not finished after ${timeoutMs} ms: ${JSON.stringify(job && { status: job.status, processed: job.processed, total: job.total })}; errors ${JSON.stringify(runner.errors.slice(-5))}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
    async stop() {
      await runner.stop();
      await stack.stop();
    },
  };
}
