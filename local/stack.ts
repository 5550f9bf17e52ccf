import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import type { KnobsInput } from './ringcx-simulator/knobs';
import { type RingCxSimulator, startRingCxSimulator } from './ringcx-simulator/server';
import type { TenantSeed } from './ringcx-simulator/fixtures';
import { createJobTable, type DynamoDbLocal, startDynamoDbLocal } from './aws/dynamodbLocal';
import { LocalJsonServices } from './aws/jsonServices';

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Queues as the stack defines them: each with a DLQ and a redrive policy. */
export const LOCAL_QUEUES = {
  work: 'dnis-sync-work',
  workDlq: 'dnis-sync-work-dlq',
  priority: 'dnis-sync-priority',
  priorityDlq: 'dnis-sync-priority-dlq',
  eventsDlq: 'dnis-sync-events-dlq',
} as const;

export interface LocalStackOptions {
  /** Reuse a running DynamoDB Local (tests share one JVM); otherwise one is started. */
  dynamoEndpoint?: string;
  tableName?: string;
  bucket?: string;
  /** When set, RingCX is this server instead of the simulator; `secretJson` holds its credentials. */
  ringcx?: { baseUrl: string; secretJson: string };
  simulator?: { knobs?: KnobsInput; seed?: TenantSeed; random?: () => number };
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
  env?: Record<string, string>;
}

export interface LocalStack {
  env: Record<string, string>;
  sqs: SQSClient;
  s3: S3Client;
  json: LocalJsonServices;
  simulator: RingCxSimulator | undefined;
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
  const fauxqs = await startFauxqs({ port: 0, logger: false, messageSpies: true });
  const awsUrl = `http://127.0.0.1:${fauxqs.port}`;
  let dynamo: DynamoDbLocal | undefined;
  const dynamoEndpoint = options.dynamoEndpoint ?? (dynamo = await startDynamoDbLocal()).endpoint;
  const json = new LocalJsonServices();
  await json.start();
  const simulator = options.ringcx
    ? undefined
    : await startRingCxSimulator({
        ...(options.simulator?.knobs ? { knobs: options.simulator.knobs } : {}),
        ...(options.simulator?.seed ? { seed: options.simulator.seed } : {}),
        ...(options.simulator?.random ? { random: options.simulator.random } : {}),
      });

  const tableName = options.tableName ?? 'dnis-sync';
  const bucket = options.bucket ?? 'dnis-sync-local';
  await createJobTable(dynamoEndpoint, tableName);

  const s3 = new S3Client({ region: 'us-east-1', endpoint: awsUrl, forcePathStyle: true, credentials: LOCAL_CREDENTIALS });
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: awsUrl, credentials: LOCAL_CREDENTIALS });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  const visibility = String(options.visibilityTimeoutSeconds ?? 2);
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const queue = async (name: string, attributes: Record<string, string> = {}) => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: visibility, ...attributes } }));
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    return { url: QueueUrl as string, arn: attrs.Attributes?.QueueArn as string };
  };
  const workDlq = await queue(LOCAL_QUEUES.workDlq);
  const priorityDlq = await queue(LOCAL_QUEUES.priorityDlq);
  const eventsDlq = await queue(LOCAL_QUEUES.eventsDlq);
  const redrive = (dlqArn: string) => ({ RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) });
  const work = await queue(LOCAL_QUEUES.work, redrive(workDlq.arn));
  const priority = await queue(LOCAL_QUEUES.priority, redrive(priorityDlq.arn));

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
    RINGCX_DEFAULT_ACCOUNT_ID: '99990001',
    TABLE_NAME: tableName,
    BUCKET_NAME: bucket,
    WORK_QUEUE_URL: work.url,
    PRIORITY_QUEUE_URL: priority.url,
    EVENTS_DLQ_URL: eventsDlq.url,
    EVENT_SOURCES: 'dnis-sync.requests,dnis-sync.local',
    EVENT_BUS_NAME: 'dnis-sync',
    MAX_RECEIVE_COUNT: String(maxReceiveCount),
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
    queues: { work, workDlq, priority, priorityDlq, eventsDlq },
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
