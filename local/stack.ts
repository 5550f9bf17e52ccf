import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import type { KnobsInput } from './ringcx-simulator/knobs';
import { type RingCxSimulator, startRingCxSimulator } from './ringcx-simulator/server';
import { demoTenant, type TenantSeed } from './ringcx-simulator/fixtures';
import { twinSizing, type TwinSizing } from './twin/sizing';
import { createJobTable, type DynamoDbLocal, startDynamoDbLocal } from './aws/dynamodbLocal';
import { RINGCX_BUDGET_TABLE_NAME } from '../shared/store/table';
import { DEFAULT_REPORT_LEASE_SECONDS } from '../shared/config';
import { LocalJsonServices } from './aws/jsonServices';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Queues as the stack defines them: each with a DLQ and a redrive policy. */
export const LOCAL_QUEUES = {
  work: 'dnis-sync-work',
  workDlq: 'dnis-sync-work-dlq',
  bulk: 'dnis-sync-bulk',
  bulkDlq: 'dnis-sync-bulk-dlq',
  priority: 'dnis-sync-priority',
  priorityDlq: 'dnis-sync-priority-dlq',
  eventsDlq: 'dnis-sync-events-dlq',
  exports: 'dnis-sync-exports',
  exportsDlq: 'dnis-sync-exports-dlq',
} as const;

export interface LocalStackOptions {
  /** Whose sizing the twin copies (infra/config.ts): batch sizes, concurrency, timeouts, budgets. Default dev. */
  stage?: 'dev' | 'prod';
  /** Every duration is divided by this: timeouts, visibility, batching windows, schedules, the RingCX window. Default 1. */
  timeScale?: number;
  /** Reuse a running DynamoDB Local (tests share one JVM); otherwise one is started. */
  dynamoEndpoint?: string;
  tableName?: string;
  /** The RingCX budget table; by default the deployed name, or `<tableName>-budget` beside a table of the test's own. */
  budgetTableName?: string;
  bucket?: string;
  /** When set, RingCX is this server instead of the simulator; `secretJson` holds its credentials. */
  ringcx?: { baseUrl: string; secretJson: string };
  simulator?: { knobs?: KnobsInput; seed?: TenantSeed; random?: () => number };
  /** Overrides the stage's redrive maxReceiveCount (tests of the DLQ path). */
  maxReceiveCount?: number;
  /**
   * Overrides the stage's (scaled) visibility timeout. Only for the in-process harness, whose
   * poller re-shows failed messages itself; the twin keeps the stage's value.
   */
  visibilityTimeoutSeconds?: number;
  env?: Record<string, string>;
}

export interface LocalStack {
  env: Record<string, string>;
  sqs: SQSClient;
  s3: S3Client;
  json: LocalJsonServices;
  simulator: RingCxSimulator | undefined;
  sizing: TwinSizing;
  /** Per-function additions to `env`, as the stack gives each function its own: its RingCX budget priority. */
  functionEnv: { worker: Record<string, string>; exporter: Record<string, string> };
  queues: Record<keyof typeof LOCAL_QUEUES, { url: string; arn: string }>;
  fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
  stop(): Promise<void>;
}

/**
 * Everything the functions talk to, on this machine: fauxqs (S3 + SQS), DynamoDB Local, the local
 * Secrets Manager / EventBridge endpoint and the RingCX simulator. Returns the environment that
 * points the unchanged Lambda code at them.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const sizing = twinSizing(options.stage ?? 'dev', options.timeScale ?? 1);
  const seed = options.simulator?.seed ?? demoTenant();
  const fauxqs = await startFauxqs({ port: 0, logger: false, messageSpies: true });
  const awsUrl = `http://127.0.0.1:${fauxqs.port}`;
  let dynamo: DynamoDbLocal | undefined;
  const dynamoEndpoint = options.dynamoEndpoint ?? (dynamo = await startDynamoDbLocal()).endpoint;
  const json = new LocalJsonServices();
  await json.start();
  const simulator = options.ringcx
    ? undefined
    : await startRingCxSimulator({
        // RingCX's own limits on the twin's clock; a test's knobs still win.
        knobs: {
          ...options.simulator?.knobs,
          rateLimit: { budget: sizing.ringcx.tenantRequestsPerWindow, windowMs: sizing.ringcx.windowMs, ...options.simulator?.knobs?.rateLimit },
          exchangeLimit: { windowMs: sizing.ringcx.exchangeWindowMs, ...options.simulator?.knobs?.exchangeLimit },
          tokenLifetimeMs: options.simulator?.knobs?.tokenLifetimeMs ?? sizing.ringcx.tokenLifetimeMs,
        },
        seed,
        ...(options.simulator?.random ? { random: options.simulator.random } : {}),
      });

  const tableName = options.tableName ?? 'dnis-sync';
  const bucket = options.bucket ?? 'dnis-sync-local';
  await createJobTable(dynamoEndpoint, tableName);
  // The account-wide RingCX budget table (infra/budgetStack.ts): same keys and TTL as the job table.
  // A stack with a table of its own (tests sharing one DynamoDB Local) has a simulated tenant of its
  // own too, so it gets its own budget table: separate tenants never share a budget.
  const budgetTableName = options.budgetTableName ?? (options.tableName ? `${options.tableName}-budget` : RINGCX_BUDGET_TABLE_NAME);
  await createJobTable(dynamoEndpoint, budgetTableName);

  const s3 = new S3Client({ region: 'us-east-1', endpoint: awsUrl, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: awsUrl, credentials: LOCAL_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  // SQS counts visibility in whole seconds.
  const visibility = String(options.visibilityTimeoutSeconds ?? Math.max(1, Math.round(sizing.queues.work.visibilityTimeoutMs / 1000)));
  const maxReceiveCount = options.maxReceiveCount ?? sizing.maxReceiveCount;
  const queue = async (name: string, attributes: Record<string, string> = {}) => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: visibility, ...attributes } }));
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl as string, arn: attrs.Attributes?.QueueArn as string };
  };
  const workDlq = await queue(LOCAL_QUEUES.workDlq);
  const bulkDlq = await queue(LOCAL_QUEUES.bulkDlq);
  const priorityDlq = await queue(LOCAL_QUEUES.priorityDlq);
  const eventsDlq = await queue(LOCAL_QUEUES.eventsDlq);
  const redrive = (dlqArn: string) => ({ RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) });
  const work = await queue(LOCAL_QUEUES.work, redrive(workDlq.arn));
  const bulk = await queue(LOCAL_QUEUES.bulk, redrive(bulkDlq.arn));
  const priority = await queue(LOCAL_QUEUES.priority, redrive(priorityDlq.arn));
  // The exporter's continuations, with the stack's visibility: six times the exporter's timeout.
  const exportsDlq = await queue(LOCAL_QUEUES.exportsDlq);
  const exports = await queue(LOCAL_QUEUES.exports, { ...redrive(exportsDlq.arn), VisibilityTimeout: String(Math.max(1, Math.round((6 * sizing.timeoutMs.exporter) / 1000))) });

  const secretId = 'dnis-sync/ringcx';
  json.setSecret(secretId, options.ringcx?.secretJson ?? JSON.stringify({ apiToken: 'demo-api-token' }));

  const ringcxUrl = options.ringcx?.baseUrl ?? (simulator as RingCxSimulator).url;
  const env: Record<string, string> = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_S3: awsUrl,
    AWS_ENDPOINT_URL_SQS: awsUrl,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: json.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: json.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    RINGCX_BASE_URL: ringcxUrl,
    RINGCENTRAL_BASE_URL: options.ringcx ? (process.env.RINGCENTRAL_BASE_URL ?? 'https://platform.ringcentral.com') : ringcxUrl,
    RINGCX_SECRET_ID: secretId,
    RINGCX_SELF_LOGIN: 'true',
    // The simulator's tenant, not a stage value: a deployed stage names its own account.
    RINGCX_DEFAULT_ACCOUNT_ID: seed.accounts[0]?.accountId ?? '',
    RINGCX_TIMEOUT_MS: String(sizing.ringcx.requestTimeoutMs),
    RINGCX_RETRY_BASE_MS: String(sizing.ringcx.retryBaseMs),
    // One budget for the simulated tenant, shared by every function process, as deployed.
    RINGCX_BUDGET_TABLE: budgetTableName,
    RINGCX_REQUESTS_PER_WINDOW: String(sizing.ringcx.tenantRequestsPerWindow),
    RINGCX_WINDOW_MS: String(sizing.ringcx.windowMs),
    RINGCX_BUDGET_HEADROOM: String(sizing.ringcx.headroom),
    RINGCX_BUDGET_SLICE_MS: String(sizing.ringcx.budgetSliceMs),
    RINGCX_BUDGET_CLOCK_SKEW_MS: String(sizing.ringcx.budgetClockSkewMs),
    RINGCX_EXPORT_MIN_SHARE: String(sizing.ringcx.exportMinimumShare),
    TABLE_NAME: tableName,
    BUCKET_NAME: bucket,
    WORK_QUEUE_URL: work.url,
    BULK_QUEUE_URL: bulk.url,
    PRIORITY_QUEUE_URL: priority.url,
    EVENTS_DLQ_URL: eventsDlq.url,
    EXPORT_QUEUE_URL: exports.url,
    EXPORT_CONTINUE_DELAY_SECONDS: String(Math.round(10 / sizing.timeScale)),
    EVENT_SOURCES: 'dnis-sync.requests,dnis-sync.local',
    EVENT_BUS_NAME: 'dnis-sync',
    MAX_RECEIVE_COUNT: String(maxReceiveCount),
    // The completion guarantee's clock (the sweeper's and the parser's), scaled like the rest.
    WORK_VISIBILITY_TIMEOUT_SECONDS: visibility,
    SWEEP_INTERVAL_SECONDS: String(Math.max(1, Math.round(sizing.sweepEveryMs / 1000))),
    PARSE_LEASE_SECONDS: String(Math.max(1, Math.round(sizing.parseLeaseMs / 1000))),
    REPORT_LEASE_SECONDS: String(Math.max(1, Math.round(DEFAULT_REPORT_LEASE_SECONDS / sizing.timeScale))),
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_METRICS_NAMESPACE: 'DnisSync',
    ...options.env,
  };

  return {
    env,
    sqs,
    s3,
    json,
    simulator,
    sizing,
    functionEnv: {
      worker: { RINGCX_BUDGET_PRIORITY: 'import', ...options.env },
      exporter: { RINGCX_BUDGET_PRIORITY: 'export', ...options.env },
    },
    queues: { work, workDlq, bulk, bulkDlq, priority, priorityDlq, eventsDlq, exports, exportsDlq },
    fauxqs,
    async stop() {
      sqs.destroy();
      s3.destroy();
      await simulator?.close();
      await json.stop();
      await fauxqs.stop();
      await dynamo?.stop();
    },
  };
}
