/** Per-stage settings, chosen with `cdk deploy -c stage=prod` (default dev). */
export interface StageConfig {
  stage: 'dev' | 'prod';
  ringcxBaseUrl: string;
  ringCentralBaseUrl: string;
  /** RingCX account for rows without `account_id`; unset = such rows are rejected. */
  defaultAccountId?: string;
  /** Accounts the export covers; unset = every account the credentials see. */
  accountIds?: string[];
  /**
   * RingCX's limit for the tenant, per minute: one budget that every function and instance takes
   * from (shared/ringcx/sharedBudget.ts), in the account-wide table of infra/budgetStack.ts. When
   * another system uses the same tenant, lower it by that system's share (README, "RingCX budget").
   */
  ringcxRequestsPerMinute: number;
  /** Share of the limit never used, for callers outside the budget and clock skew (0.05 = 5%). */
  ringcxHeadroom: number;
  /** Share of the budget the export is guaranteed while imports run; it takes more when they idle. */
  exportMinimumShare: number;
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
 * The bulk queue's batch. What bounds it is not the 6 MB event (a typical cheap row is 1,354
 * bytes as one SQS record of the Lambda event, so 6 MB would hold about 4,600;
 * test/infra/bulkQueue.test.ts) but the invocation: every row's outcome, intent and report line
 * are DynamoDB writes, about 10 ms a row measured on DynamoDB Local, and that time does not shrink
 * with the RingCX pace. At 500 rows that is about 5 s, which fits a prod invocation with room and
 * still fits the ×10 twin's 12 s one; 4,000 rows (40 s) got the twin's invocations killed. RingCX
 * cost stays low: a batch of 500 new numbers over 7 targets is 9 calls (a search, a create, 7
 * assignments), 0.018 per number, against the goal of 0.03. SQS takes more than 10 per batch only
 * with a window of at least 1 s; 5 s (the work queue's) fills a batch at the parser's send rate.
 * The same for dev and prod: the limit is the per-row work, not the stage.
 *
 * maxConcurrency 2, from a measurement (`npm run bench -- budget`: 10,000 new numbers, prod sizing,
 * in real time, with the budget shared): one instance leaves the budget idle while it does its
 * bookkeeping (96 requests a minute while paced, 74% of the ideal bound); two keep it busy (113 a
 * minute, 90%), and four add nothing (114, 90%) but instances waiting on the budget. With the
 * budget shared, more instances no longer shrink anyone's share; they only wait.
 */
export const BULK_QUEUE = { batchSize: 500, batchWindowSeconds: 5, maxConcurrency: 2 } as const;

const base: Omit<StageConfig, 'stage'> = {
  ringcxBaseUrl: 'https://ringcx.ringcentral.com',
  ringCentralBaseUrl: 'https://platform.ringcentral.com',
  ringcxRequestsPerMinute: 120,
  ringcxHeadroom: 0.05,
  exportMinimumShare: 0.1,
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
  return {
    worker: {
      timeoutSeconds: config.worker.timeoutSeconds,
      // Every queue's instances at once: the reserved concurrency, so no queue starves another.
      instances: config.worker.maxConcurrency + config.bulk.maxConcurrency + config.priority.maxConcurrency,
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
    exporter: { timeoutSeconds: config.exporter.timeoutSeconds },
    refresher: { timeoutSeconds: 60, everyMinutes: config.refresherEveryMinutes },
    // infra/sweeper.ts: it can re-parse a file, so it runs with the parser's timeout.
    sweeper: { timeoutSeconds: config.parser.timeoutSeconds, everyMinutes: SWEEP_EVERY_MINUTES },
    intake: { timeoutSeconds: 30 },
    ringcx: { requestsPerMinute: config.ringcxRequestsPerMinute, headroom: config.ringcxHeadroom, exportMinimumShare: config.exportMinimumShare },
  };
}

export type DeployedSizing = ReturnType<typeof deployedSizing>;
