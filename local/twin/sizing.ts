import { deployedSizing, stageConfig, type StageConfig } from '../../infra/config';
import { DEFAULT_RINGCX_RETRY_BASE_MS, DEFAULT_RINGCX_TIMEOUT_MS } from '../../shared/config';
import { minimumHeadroom } from '../../shared/ringcx/budgetSlices';

/** What a RingCX tenant gives for free: its documented limits, which the simulator enforces. */
const RINGCX_WINDOW_MS = 60_000;
const RINGCX_TOKEN_LIFETIME_MS = 5 * 60_000;
const RINGCX_EXCHANGE_WINDOW_MS = 60_000;

const MIN_TWIN_SLICE_MS = 200;

/** The shared budget's own rule (shared/ringcx/budgetSlices.ts), with its default late spending of a fifth of a slice, rounded up. */
function twinHeadroom(windowMs: number, sliceMs: number): number {
  return Math.ceil(minimumHeadroom(windowMs, sliceMs, sliceMs / 5) * 10_000) / 10_000;
}

export interface QueueSizing {
  batchSize: number;
  batchWindowMs: number;
  maxConcurrency: number;
  visibilityTimeoutMs: number;
  /** Lambda's cap on one invocation's event: a batch stops growing before its records pass it. */
  maxPayloadBytes: number;
}

/**
 * The deployed stack's sizing (infra/config.ts) with every duration divided by `timeScale`: the
 * function timeouts, the queues' visibility timeouts and batching windows, the refresher's
 * schedule, and the RingCX budget window (on both sides: the functions' limiter and the
 * simulator's). Counts (batch sizes, concurrency, requests per window, receive counts) and sizes
 * (the 6 MB event cap) stay.
 */
export function twinSizing(stage: StageConfig['stage'] = 'dev', timeScale = 1) {
  if (!(Number.isFinite(timeScale) && timeScale > 0)) throw new Error(`timeScale must be a positive number, got ${timeScale}`);
  const config = stageConfig(stage);
  const deployed = deployedSizing(config);
  const ms = (seconds: number) => Math.max(1, Math.round((seconds * 1000) / timeScale));
  const scaled = (millis: number) => Math.max(1, Math.round(millis / timeScale));
  const queue = (q: { batchSize: number; batchWindowSeconds: number; maxConcurrency: number }): QueueSizing => ({
    batchSize: q.batchSize,
    batchWindowMs: ms(q.batchWindowSeconds),
    maxConcurrency: q.maxConcurrency,
    visibilityTimeoutMs: ms(deployed.worker.visibilityTimeoutSeconds),
    maxPayloadBytes: deployed.sqsPayloadBytes,
  });
  return {
    stage,
    timeScale,
    config,
    queues: { work: queue(deployed.queues.work), bulk: queue(deployed.queues.bulk), priority: queue(deployed.queues.priority) },
    maxReceiveCount: deployed.maxReceiveCount,
    timeoutMs: {
      worker: ms(deployed.worker.timeoutSeconds),
      parser: ms(deployed.parser.timeoutSeconds),
      exporter: ms(deployed.exporter.timeoutSeconds),
      refresher: ms(deployed.refresher.timeoutSeconds),
      intake: ms(deployed.intake.timeoutSeconds),
      sweeper: ms(deployed.sweeper.timeoutSeconds),
    },
    refreshEveryMs: ms(deployed.refresher.everyMinutes * 60),
    sweepEveryMs: ms(deployed.sweeper.everyMinutes * 60),
    /** The parser's lease on its job: its timeout, so a parse that died is taken over when it would have been on AWS. */
    parseLeaseMs: ms(deployed.parser.timeoutSeconds),
    ringcx: {
      windowMs: scaled(RINGCX_WINDOW_MS),
      tenantRequestsPerWindow: deployed.ringcx.requestsPerMinute,
      // The budget's slices do not scale all the way: DynamoDB Local answers in tens of ms whatever
      // the time scale, so a slice stays at least 200 ms. Every process shares this machine's clock
      // (no skew), and the headroom grows to what slices that long need (6.25% at ×10).
      budgetSliceMs: Math.max(MIN_TWIN_SLICE_MS, scaled(60_000 / 60)),
      budgetClockSkewMs: 0,
      headroom: Math.max(deployed.ringcx.headroom, twinHeadroom(scaled(RINGCX_WINDOW_MS), Math.max(MIN_TWIN_SLICE_MS, scaled(60_000 / 60)))),
      exportMinimumShare: deployed.ringcx.exportMinimumShare,
      tokenLifetimeMs: scaled(RINGCX_TOKEN_LIFETIME_MS),
      exchangeWindowMs: scaled(RINGCX_EXCHANGE_WINDOW_MS),
      // The client's per-request timeout is a duration too: unscaled, one hung call would outlast a scaled deadline.
      requestTimeoutMs: scaled(DEFAULT_RINGCX_TIMEOUT_MS),
      // So is the backoff between attempts: unscaled, a retry would wait ten times too long at ×10.
      retryBaseMs: scaled(DEFAULT_RINGCX_RETRY_BASE_MS),
    },
  };
}

export type TwinSizing = ReturnType<typeof twinSizing>;
