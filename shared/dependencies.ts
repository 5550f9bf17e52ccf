import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { type AwsClients, createAwsClients } from './aws/clients';
import { type EventPublisher, eventBridgePublisher } from './aws/events';
import type { CoreConfig, IntakeConfig, ParserConfig, SweeperConfig, WorkerConfig } from './config';
import { recordRingCxCall } from './observability/ringcxCalls';
import { JobStore } from './store/jobStore';
import { SecretTokenProvider } from './ringcx/auth/tokenProvider';
import { RingCxClient } from './ringcx/client';
import { RateLimiter } from './ringcx/rateLimiter';
import type { RequestBudget } from './ringcx/requestBudget';
import { SharedBudget } from './ringcx/sharedBudget';
import { BudgetOnFirstUse } from './ringcx/budgetOnFirstUse';
import { parseRingCxSecret, tenantKeyOf } from './ringcx/auth/credentials';
import { DynamoBudgetLedger } from './store/budgetSlices';
import { logger } from './observability/powertools';
import { createHash } from 'node:crypto';
import { DynamoIntentStore, type IntentStore } from './store/intents';

/**
 * Everything a function needs, built once per process from its validated config. Code that reads
 * only the core settings takes `Dependencies`; a stage that reads its own settings takes its
 * function's dependencies (below), so a function whose schema lacks a setting cannot call it.
 */
export interface Dependencies<C extends CoreConfig = CoreConfig> {
  config: C;
  aws: AwsClients;
  store: JobStore;
  events: EventPublisher;
  ringcx: RingCxClient;
  /** The RingCX budget this process takes from: the tenant's shared one when deployed. */
  limiter: RequestBudget;
  tokens: SecretTokenProvider;
  /** What this stack's writes set out to do, so a re-read that finds them done reports them truly. */
  intents: IntentStore;
}

export type ParserDependencies = Dependencies<ParserConfig>;
export type WorkerDependencies = Dependencies<WorkerConfig>;
export type IntakeDependencies = Dependencies<IntakeConfig>;
export type SweeperDependencies = Dependencies<SweeperConfig>;

export function createDependencies<C extends CoreConfig>(config: C, overrides: Partial<Pick<Dependencies, 'aws' | 'events'>> = {}): Dependencies<C> {
  const aws = overrides.aws ?? createAwsClients(config);
  const readSecret = async () => {
    const secret = await aws.secrets.send(new GetSecretValueCommand({ SecretId: config.RINGCX_SECRET_ID }));
    if (!secret.SecretString) throw new Error(`secret ${config.RINGCX_SECRET_ID} has no string value`);
    return secret.SecretString;
  };
  const limiter = createRequestBudget(config, aws, readSecret);
  const tokens = new SecretTokenProvider({
    readSecret,
    endpoints: { ringCentralBaseUrl: config.RINGCENTRAL_BASE_URL, ringCxBaseUrl: config.RINGCX_BASE_URL, budget: limiter },
    selfLogin: config.RINGCX_SELF_LOGIN,
    // Shorter than the token's 5-minute life, so a refreshed token is picked up well before expiry.
    maxCacheMs: Math.min(60_000, config.RINGCX_WINDOW_MS),
    // Half a budget window (30 s in production): a token that close to expiry is renewed first.
    expirySkewMs: Math.min(30_000, config.RINGCX_WINDOW_MS / 2),
  });
  const ringcx = new RingCxClient({
    baseUrl: config.RINGCX_BASE_URL,
    tokenProvider: tokens,
    limiter,
    timeoutMs: config.RINGCX_TIMEOUT_MS,
    retry: {
      maxAttempts: config.RINGCX_MAX_ATTEMPTS,
      baseDelayMs: config.RINGCX_RETRY_BASE_MS,
      rateLimitBaseDelayMs: Math.max(config.RINGCX_RETRY_BASE_MS, Math.round(config.RINGCX_WINDOW_MS / 30)),
    },
    onCall: recordRingCxCall,
  });
  return {
    config,
    aws,
    store: new JobStore(aws.dynamo, config.TABLE_NAME, { retentionDays: config.JOB_RETENTION_DAYS, auditRetentionDays: config.AUDIT_RETENTION_DAYS }),
    events: overrides.events ?? eventBridgePublisher(aws.events, config.EVENT_BUS_NAME, config.EVENT_SOURCE),
    ringcx,
    limiter,
    tokens,
    intents: new DynamoIntentStore(aws.dynamo, config.TABLE_NAME, { retentionDays: config.JOB_RETENTION_DAYS }),
  };
}

/**
 * The tenant's shared budget when RINGCX_BUDGET_TABLE names its table (every deployed function),
 * keyed by the credentials in the secret, so stacks on one tenant share it. Without a table, this
 * process is taken to be the tenant's only caller (tests, one-process tools).
 */
function createRequestBudget(config: CoreConfig, aws: AwsClients, readSecret: () => Promise<string>): RequestBudget {
  const tableName = config.RINGCX_BUDGET_TABLE;
  if (!tableName) return new RateLimiter({ budget: config.RINGCX_REQUESTS_PER_WINDOW, windowMs: config.RINGCX_WINDOW_MS });
  const fairPaceMs = config.RINGCX_WINDOW_MS / config.RINGCX_REQUESTS_PER_WINDOW;
  return new BudgetOnFirstUse(async () => {
    const secret = parseRingCxSecret(await readSecret());
    // A secret holding only a session token names no stable tenant: the secret itself stands in.
    const tenantKey = tenantKeyOf(secret, config.RINGCX_BASE_URL) ?? createHash('sha256').update(`secret|${config.RINGCX_SECRET_ID}`).digest('hex').slice(0, 32);
    return new SharedBudget({
      ledger: new DynamoBudgetLedger(aws.dynamo, tableName),
      tenantKey,
      budget: config.RINGCX_REQUESTS_PER_WINDOW,
      windowMs: config.RINGCX_WINDOW_MS,
      ...(config.RINGCX_BUDGET_SLICE_MS ? { sliceMs: config.RINGCX_BUDGET_SLICE_MS } : {}),
      ...(config.RINGCX_BUDGET_CLOCK_SKEW_MS !== undefined ? { clockSkewMs: config.RINGCX_BUDGET_CLOCK_SKEW_MS } : {}),
      headroom: config.RINGCX_BUDGET_HEADROOM,
      exportShare: config.RINGCX_EXPORT_MIN_SHARE,
      priority: config.RINGCX_BUDGET_PRIORITY,
      onLedgerError: (error) => logger.warn('RingCX budget table request failed; retrying', { error: (error as Error)?.name }),
    });
  }, fairPaceMs);
}
