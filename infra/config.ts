/** Per-stage settings, chosen with `cdk deploy -c stage=prod` (default dev). */
export interface StageConfig {
  stage: 'dev' | 'prod';
  ringcxBaseUrl: string;
  ringCentralBaseUrl: string;
  /** RingCX account for rows without `account_id`; unset = such rows are rejected. */
  defaultAccountId?: string;
  /** Accounts the export covers; unset = every account the credentials see. */
  accountIds?: string[];
  /** RingCX's documented limit, shared by every function that calls it. */
  ringcxRequestsPerMinute: number;
  /** Requests per minute kept for the exporter; the rest is split between worker instances. */
  exporterRequestsPerMinute: number;
  worker: { timeoutSeconds: number; memoryMb: number; batchSize: number; batchWindowSeconds: number; maxConcurrency: number };
  /** The bulk queue's mapping onto the same worker function: cheap rows in large batches (see BULK_QUEUE). */
  bulk: { batchSize: number; batchWindowSeconds: number; maxConcurrency: number };
  priority: { batchSize: number; maxConcurrency: number };
  maxReceiveCount: number;
  parser: { timeoutSeconds: number; memoryMb: number; ephemeralStorageGb: number; maxFileMb: number; maxRows: number };
  exporter: { timeoutSeconds: number; memoryMb: number; cron: string; timeZone: string; pageSize: number };
  refresherEveryMinutes: number;
  retention: { resultsDays: number; exportsDays: number; jobDays: number; logDays: number };
  /** EventBridge sources allowed to request reassignments. */
  eventSources: string[];
  /**
   * IAM role ARNs allowed to put reassignment requests (events with one of `eventSources`) on the
   * bus. Everyone else, in this account or any other, is denied those sources by the bus policy.
   * Empty = nobody may request reassignments.
   */
  reassignmentSenders: string[];
  maintenanceWindow?: string;
  /**
   * Where alarms go by mail: set it per stage below (the address must confirm the subscription
   * mail AWS sends). Unset = the SNS topic exists, nobody is subscribed.
   */
  alarmEmail?: string;
  /** Days reassignment audit entries are kept; unset = forever (no TTL on audit items). */
  auditRetentionDays?: number;
  /** Age of the oldest work-queue message that counts as "stuck". */
  oldestMessageAlarmSeconds: number;
}

/**
 * Lambda hands an SQS mapping at most 6 MB per invocation (6,291,456 bytes), however large the
 * batch size; records beyond it stay on the queue for the next batch.
 */
export const LAMBDA_SQS_PAYLOAD_BYTES = 6 * 1024 * 1024;

/**
 * The bulk queue's batch, from the size of a cheap row as the worker receives it: one SQS record
 * of the Lambda event (body, receipt handle, ids, attributes, ARN). Measured with a typical row
 * (number, 26-character description, queue target, five input cells; test/infra/bulkQueue.test.ts):
 * 1,354 bytes, so 6 MB holds about 4,600. 4,000 leaves room for longer descriptions and receipt
 * handles while keeping the batch full; rows at the validator's limits (about 4.5 KB each) are cut
 * to about 1,400 by the payload cap instead, which only costs a few more array calls. A batch of
 * 4,000 cheap rows over 7 targets is 12 RingCX calls (a search, 4 creates, 7 assignments), well
 * inside a 120 s invocation even at a per-instance slice of the budget; a batch that would not
 * fit is cut by the engine's deadline admission and the rest handed on. SQS takes up to 10,000 per
 * batch above 10 only with a window of at least 1 s; 5 s (the work queue's) fills a batch at the
 * parser's send rate of thousands per second and keeps a small file's wait short. The same for
 * dev and prod: the limit is the message size, not the stage.
 */
export const BULK_QUEUE = { batchSize: 4_000, batchWindowSeconds: 5, maxConcurrency: 2 } as const;

const base: Omit<StageConfig, 'stage'> = {
  ringcxBaseUrl: 'https://ringcx.ringcentral.com',
  ringCentralBaseUrl: 'https://platform.ringcentral.com',
  ringcxRequestsPerMinute: 120,
  exporterRequestsPerMinute: 12,
  worker: { timeoutSeconds: 120, memoryMb: 1024, batchSize: 100, batchWindowSeconds: 5, maxConcurrency: 2 },
  bulk: { ...BULK_QUEUE },
  priority: { batchSize: 5, maxConcurrency: 2 },
  maxReceiveCount: 5,
  parser: { timeoutSeconds: 900, memoryMb: 1769, ephemeralStorageGb: 4, maxFileMb: 100, maxRows: 250_000 },
  exporter: { timeoutSeconds: 900, memoryMb: 1024, cron: '0 6 * * ? *', timeZone: 'America/New_York', pageSize: 1000 },
  refresherEveryMinutes: 4,
  retention: { resultsDays: 90, exportsDays: 30, jobDays: 90, logDays: 30 },
  eventSources: ['dnis-sync.requests'],
  reassignmentSenders: [],
  oldestMessageAlarmSeconds: 3_600,
};

export const STAGES: Record<StageConfig['stage'], StageConfig> = {
  // Edit these for your deployment (README, "Deployment"): defaultAccountId, accountIds,
  // reassignmentSenders, alarmEmail, maintenanceWindow. Nothing here may point at the local simulator.
  dev: {
    ...base,
    stage: 'dev',
    alarmEmail: undefined,
  },
  prod: {
    ...base,
    stage: 'prod',
    alarmEmail: undefined,
    auditRetentionDays: undefined,
    retention: { resultsDays: 365, exportsDays: 90, jobDays: 180, logDays: 90 },
    maintenanceWindow: JSON.stringify({ timeZone: 'America/New_York', days: ['sat', 'sun'], start: '01:00', end: '05:00' }),
  },
};

/**
 * RingCX's budget split between the processes that call it. The worker function's reserved
 * concurrency equals the three queues' maxConcurrency (work, bulk, priority), so at most that many
 * worker instances exist, each with its own token bucket; the exporter (one instance) keeps its own slice.
 */
export function ringcxBudget(config: StageConfig) {
  const workerInstances = config.worker.maxConcurrency + config.bulk.maxConcurrency + config.priority.maxConcurrency;
  const perWorker = Math.floor((config.ringcxRequestsPerMinute - config.exporterRequestsPerMinute) / workerInstances);
  return { workerInstances, perWorker, exporter: config.exporterRequestsPerMinute, total: perWorker * workerInstances + config.exporterRequestsPerMinute };
}

export function stageConfig(stage: string | undefined): StageConfig {
  const config = STAGES[(stage ?? 'dev') as StageConfig['stage']];
  if (!config) throw new Error(`unknown stage "${stage}"; use one of ${Object.keys(STAGES).join(', ')}`);
  return config;
}

/**
 * The runtime sizing the stack deploys, in one shape the local twin reads too, so `npm start`,
 * the harness and AWS agree on every number. Durations are in seconds, as CDK takes them.
 */
/** How often the completion sweeper runs (a term of the completion bound). */
export const SWEEP_EVERY_MINUTES = 5;

export function deployedSizing(config: StageConfig) {
  const budget = ringcxBudget(config);
  return {
    worker: {
      timeoutSeconds: config.worker.timeoutSeconds,
      requestsPerMinute: budget.perWorker,
      // AWS: at least 6× the function timeout, so a throttled or timed-out batch is retried, not dropped.
      visibilityTimeoutSeconds: config.worker.timeoutSeconds * 6,
    },
    queues: {
      work: { batchSize: config.worker.batchSize, batchWindowSeconds: config.worker.batchWindowSeconds, maxConcurrency: config.worker.maxConcurrency },
      bulk: { batchSize: config.bulk.batchSize, batchWindowSeconds: config.bulk.batchWindowSeconds, maxConcurrency: config.bulk.maxConcurrency },
      priority: { batchSize: config.priority.batchSize, batchWindowSeconds: 0, maxConcurrency: config.priority.maxConcurrency },
    },
    maxReceiveCount: config.maxReceiveCount,
    /** What one SQS mapping may hand the worker per invocation, whatever its batch size. */
    sqsPayloadBytes: LAMBDA_SQS_PAYLOAD_BYTES,
    parser: { timeoutSeconds: config.parser.timeoutSeconds },
    exporter: { timeoutSeconds: config.exporter.timeoutSeconds, requestsPerMinute: budget.exporter },
    refresher: { timeoutSeconds: 60, everyMinutes: config.refresherEveryMinutes },
    // infra/sweeper.ts: it can re-parse a file, so it runs with the parser's timeout.
    sweeper: { timeoutSeconds: config.parser.timeoutSeconds, everyMinutes: SWEEP_EVERY_MINUTES },
    intake: { timeoutSeconds: 30 },
    ringcx: { requestsPerMinute: config.ringcxRequestsPerMinute },
  };
}

export type DeployedSizing = ReturnType<typeof deployedSizing>;
