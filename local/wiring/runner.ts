import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsClients } from '../../shared/aws/clients';
import { loadConfig } from '../../shared/config';
import type { IngestResult } from '../../shared/ingest/parseObject';
import { reportKeys, type JobSummary } from '../../shared/jobs/reports';
import { JobStore, type JobMeta } from '../../shared/jobs/store';
import type { LocalStack } from '../stack';
import { lambdaContext, s3ObjectCreatedEvent } from './lambdaEvents';
import { SqsPoller } from './sqsPoller';

export interface LocalHandlers {
  parser: (event: S3Event, context: Context) => Promise<unknown>;
  worker: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  intake?: (event: never, context: Context) => Promise<unknown>;
  exporter?: (event: unknown, context: Context) => Promise<unknown>;
  refresher?: (event: unknown, context: Context) => Promise<unknown>;
}

export interface FileOutcome {
  jobId: string;
  summary: JobSummary;
  reports: Record<'results.csv' | 'failed.csv' | 'summary.json', string>;
  table: string;
}

/**
 * AWS's event delivery, locally: an object put in the bucket invokes the parser with the S3 event
 * shape, and pollers feed the work queue to the worker as the event source mapping would (batch
 * size and window, partial batch failures, visibility timeout, redrive to the DLQ).
 */
export class LocalRunner {
  readonly workPoller: SqsPoller;
  readonly priorityPoller: SqsPoller;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly store: JobStore;
  private readonly errors: unknown[] = [];

  constructor(
    private readonly stack: LocalStack,
    private readonly handlers: LocalHandlers,
    options: { workerConcurrency?: number; batchSize?: number } = {},
  ) {
    const config = loadConfig(stack.env);
    this.store = new JobStore(createAwsClients(config).dynamo, config.TABLE_NAME, { retentionDays: 1 });
    this.workPoller = new SqsPoller({
      sqs: stack.sqs,
      queueUrl: stack.queues.work.url,
      queueArn: stack.queues.work.arn,
      functionName: 'dnis-sync-worker',
      handler: handlers.worker,
      batchSize: options.batchSize ?? 100,
      batchWindowMs: 500,
      concurrency: options.workerConcurrency ?? 2,
      retryDelayMs: 5_000,
      onError: (error) => this.errors.push(error),
    });
    this.priorityPoller = new SqsPoller({
      sqs: stack.sqs,
      queueUrl: stack.queues.priority.url,
      queueArn: stack.queues.priority.arn,
      functionName: 'dnis-sync-worker',
      handler: handlers.worker,
      batchSize: 5,
      batchWindowMs: 0,
      concurrency: 1,
      retryDelayMs: 5_000,
      onError: (error) => this.errors.push(error),
    });
    // The bus rule: requests from allowed sources reach the intake function, as EventBridge delivers them.
    const allowed = new Set(config.EVENT_SOURCES);
    stack.json.subscribers.push(async (event) => {
      if (event.detailType === 'DNIS Reassignment Requested' && allowed.has(event.source) && handlers.intake) {
        await handlers.intake(event.envelope as never, lambdaContext('dnis-sync-reassign-intake'));
      }
    });
  }

  /** Starts the pollers and, like the schedule, the token refresher every `refreshEveryMs`. */
  start(refreshEveryMs = 4 * 60_000): void {
    this.workPoller.start();
    this.priorityPoller.start();
    if (this.handlers.refresher) {
      const refresh = () => void this.handlers.refresher?.({}, lambdaContext('dnis-sync-token-refresher')).catch((error: unknown) => this.errors.push(error));
      refresh();
      this.refreshTimer = setInterval(refresh, refreshEveryMs);
    }
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    await Promise.all([this.workPoller.stop(), this.priorityPoller.stop()]);
  }

  /** What the daily schedule does: export every number and its routing, with the drift report. */
  async runExport(): Promise<{ manifest: Record<string, unknown>; files: Record<string, string> }> {
    if (!this.handlers.exporter) throw new Error('no exporter handler');
    const manifest = (await this.handlers.exporter({}, lambdaContext('dnis-sync-exporter', 15 * 60_000))) as { files: Record<string, string> };
    const bucket = this.stack.env.BUCKET_NAME as string;
    const files: Record<string, string> = {};
    for (const [name, key] of Object.entries(manifest.files)) {
      const object = await this.stack.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      files[key.split('/').at(-1) as string] = (await object.Body?.transformToString('utf-8')) ?? '';
    }
    return { manifest, files };
  }

  /** Puts a reassignment request on the bus and waits for its answer event. */
  async reassign(detail: Record<string, unknown>, timeoutMs = 120_000): Promise<{ detailType: string; detail: Record<string, unknown> }> {
    const events = this.stack.json.events;
    const before = events.length;
    const { EventBridgeClient, PutEventsCommand } = await import('@aws-sdk/client-eventbridge');
    const client = new EventBridgeClient({ region: 'us-east-1', endpoint: this.stack.env.AWS_ENDPOINT_URL_EVENTBRIDGE, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const put = await client.send(
      new PutEventsCommand({ Entries: [{ EventBusName: this.stack.env.EVENT_BUS_NAME, Source: 'dnis-sync.local', DetailType: 'DNIS Reassignment Requested', Detail: JSON.stringify(detail) }] }),
    );
    const requestId = put.Entries?.[0]?.EventId;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const answer = events.slice(before).find((e) => ['DNIS Reassigned', 'DNIS Reassignment Failed'].includes(e.detailType) && (e.detail as { requestId?: string }).requestId === requestId);
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
    const { planKeyOf } = await import('../../shared/plans/savePlan');
    const { safeRelativePath, modeOf } = await import('../../shared/ingest/parseObject');
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
    const results = (await this.handlers.parser(s3ObjectCreatedEvent(bucket, key, { size: body.length, eTag: put.ETag, versionId: put.VersionId }), lambdaContext('dnis-sync-parser'))) as IngestResult[];
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
