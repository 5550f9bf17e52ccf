import { randomUUID } from 'node:crypto';
import { GetSecretValueCommand, PutSecretValueCommand, UpdateSecretVersionStageCommand } from '@aws-sdk/client-secrets-manager';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES } from '../contracts';
import { awaitingCredentials, jwtCredentialsOf, parseRingCxSecret, type RingCxSecret } from '../ringcx/auth/credentials';
import { loginWithJwt, refreshSession, type RingCxSession } from '../ringcx/auth/exchange';
import { RingCxAuthError } from '../ringcx/errors';
import { logger, metrics } from '../observability/powertools';
import type { Dependencies } from '../dependencies';

export type RefreshResult =
  | { status: 'refreshed' | 'logged-in'; expiresAt: string; attempts: number }
  | { status: 'busy' | 'not-jwt' | 'awaiting-credentials' };

const LEASE = 'token-refresher';
/** Each retry follows a write someone else made during this run; more than a few means a loop. */
export const MAX_WRITE_ATTEMPTS = 3;

interface SecretVersion {
  versionId: string;
  raw: string;
}

/** Fields an operator owns: a change to any of them means the session must come from the new ones. */
const CREDENTIAL_KEYS = ['apiToken', 'clientId', 'clientSecret', 'jwt'] as const;

/**
 * Keeps the RingCX token in the secret fresh, so workers never log in themselves (the exchange
 * admits 5 calls a minute). A DynamoDB lease makes runs exclusive: two runs must not both spend
 * the same refresh token, or the secret could end up holding the revoked one. A spent or revoked
 * refresh token falls back to a full JWT login.
 *
 * The write is a compare-and-set on the version read, so an operator's put-secret-value made while
 * a run is under way is never overwritten: the new value goes in as AWSPENDING and becomes
 * AWSCURRENT only if AWSCURRENT is still the version this attempt read. Otherwise the run re-reads
 * and writes its session onto the operator's value (same credentials) or gets a session from the
 * operator's new credentials (changed ones). A written value only ever holds credentials read in
 * that same attempt.
 */
export async function refreshRingCxToken(rt: Dependencies, owner = randomUUID()): Promise<RefreshResult> {
  if (!(await rt.store.acquireLease(LEASE, owner, 60_000))) {
    logger.info('another refresher run holds the lease; nothing to do');
    return { status: 'busy' };
  }
  try {
    let base = await readCurrent(rt);
    let carried: { session: RingCxSession; status: 'refreshed' | 'logged-in'; credentialsOf: RingCxSecret } | undefined;
    const spentRefreshTokens = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const awaiting = awaitingCredentials(base.raw);
      if (awaiting) {
        reportAwaitingCredentials(rt, awaiting.fieldsPresent);
        return { status: 'awaiting-credentials' };
      }
      const secret = parseRingCxSecret(base.raw);
      const credentials = jwtCredentialsOf(secret);
      if (!credentials) return { status: 'not-jwt' };

      let obtained = carried && sameCredentials(carried.credentialsOf, secret) ? carried : undefined;
      if (!obtained) {
        const refreshToken = secret.refreshToken && !spentRefreshTokens.has(secret.refreshToken) ? secret.refreshToken : undefined;
        if (refreshToken) spentRefreshTokens.add(refreshToken);
        const fresh = await obtainSession(rt, credentials, refreshToken);
        obtained = { ...fresh, credentialsOf: secret };
      }
      const { session, status } = obtained;
      const expiresAt = new Date(session.expiresAt).toISOString();
      const next = JSON.stringify({ ...secret, accessToken: session.accessToken, refreshToken: session.refreshToken, expiresAt });
      const latest = await compareAndSet(rt, base.versionId, next);
      if (!latest) {
        logger.info('RingCX token renewed', { status, expiresAt, attempts: attempt });
        return { status, expiresAt, attempts: attempt };
      }
      if (attempt >= MAX_WRITE_ATTEMPTS) {
        throw new Error(`the RingCX secret changed during each of ${MAX_WRITE_ATTEMPTS} refresh attempts; left it as the last writer put it`);
      }
      logger.warn('the RingCX secret changed while the token was renewed; keeping the new version and renewing onto it', { attempt });
      carried = obtained;
      base = latest;
    }
  } finally {
    await rt.store.releaseLease(LEASE, owner);
  }
}

function reportAwaitingCredentials(rt: Dependencies, fieldsPresent: string[]): void {
  const found = fieldsPresent.length > 0 ? ` (it has only ${fieldsPresent.join(', ')})` : '';
  logger.warn(
    `RingCX credentials not entered yet: secret ${rt.config.RINGCX_SECRET_ID} holds no apiToken and no clientId + clientSecret + jwt${found}; put them with aws secretsmanager put-secret-value. Nothing to refresh until then.`,
  );
  metrics.addMetric(METRIC_NAMES.credentialsMissing, MetricUnit.Count, 1);
}

async function obtainSession(
  rt: Dependencies,
  credentials: NonNullable<ReturnType<typeof jwtCredentialsOf>>,
  refreshToken: string | undefined,
): Promise<{ session: RingCxSession; status: 'refreshed' | 'logged-in' }> {
  const endpoints = { ringCentralBaseUrl: rt.config.RINGCENTRAL_BASE_URL, ringCxBaseUrl: rt.config.RINGCX_BASE_URL, budget: rt.limiter };
  if (refreshToken) {
    try {
      return { session: await refreshSession(refreshToken, endpoints), status: 'refreshed' };
    } catch (error) {
      if (!(error instanceof RingCxAuthError)) throw error;
      logger.warn('refresh token refused; logging in again with the JWT credentials');
    }
  }
  return { session: await loginWithJwt(credentials, endpoints), status: 'logged-in' };
}

function sameCredentials(a: RingCxSecret, b: RingCxSecret): boolean {
  return CREDENTIAL_KEYS.every((key) => a[key] === b[key]);
}

async function readCurrent(rt: Dependencies): Promise<SecretVersion> {
  const current = await rt.aws.secrets.send(new GetSecretValueCommand({ SecretId: rt.config.RINGCX_SECRET_ID }));
  if (!current.VersionId) throw new Error('Secrets Manager returned the RingCX secret without a version id');
  return { versionId: current.VersionId, raw: current.SecretString ?? '' };
}

/**
 * Writes `value` as the new AWSCURRENT only if AWSCURRENT is still `expectedVersionId`. Returns
 * undefined when written, or the version that is AWSCURRENT now when someone wrote in between.
 */
async function compareAndSet(rt: Dependencies, expectedVersionId: string, value: string): Promise<SecretVersion | undefined> {
  const secretId = rt.config.RINGCX_SECRET_ID;
  const pending = await rt.aws.secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value, VersionStages: ['AWSPENDING'] }));
  try {
    await rt.aws.secrets.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: pending.VersionId,
        RemoveFromVersionId: expectedVersionId,
      }),
    );
    return undefined;
  } catch (error) {
    // Whatever the error's name, the question is whether AWSCURRENT moved; ask the secret.
    const latest = await readCurrent(rt);
    // The move went through but its answer was lost.
    if (latest.versionId === pending.VersionId) return undefined;
    if (latest.versionId !== expectedVersionId) return latest;
    throw error;
  }
}
