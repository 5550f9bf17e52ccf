import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { type AwsClients, createAwsClients } from './aws/clients';
import { type EventPublisher, eventBridgePublisher } from './aws/events';
import type { CoreConfig, IntakeConfig, ParserConfig, SweeperConfig, WorkerConfig } from './config';
import { recordRingCxCall } from './observability/ringcxCalls';
import { JobStore } from './store/jobStore';
import { SecretTokenProvider } from './ringcx/auth/tokenProvider';
import { RingCxClient } from './ringcx/client';
import { RateLimiter } from './ringcx/rateLimiter';
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
  limiter: RateLimiter;
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
  const limiter = new RateLimiter({ budget: config.RINGCX_REQUESTS_PER_WINDOW, windowMs: config.RINGCX_WINDOW_MS });
  const tokens = new SecretTokenProvider({
    readSecret: async () => {
      const secret = await aws.secrets.send(new GetSecretValueCommand({ SecretId: config.RINGCX_SECRET_ID }));
      if (!secret.SecretString) throw new Error(`secret ${config.RINGCX_SECRET_ID} has no string value`);
      return secret.SecretString;
    },
    endpoints: { ringCentralBaseUrl: config.RINGCENTRAL_BASE_URL, ringCxBaseUrl: config.RINGCX_BASE_URL },
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
