import { randomUUID } from 'node:crypto';
import { GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { jwtCredentialsOf, parseRingCxSecret } from '../ringcx/auth/credentials';
import { loginWithJwt, refreshSession, type RingCxSession } from '../ringcx/auth/exchange';
import { RingCxAuthError } from '../ringcx/errors';
import { logger } from '../framework/powertools';
import type { Runtime } from '../runtime';

export type RefreshResult =
  | { status: 'refreshed' | 'logged-in'; expiresAt: string }
  | { status: 'busy' | 'not-jwt' };

const LEASE = 'token-refresher';

/**
 * Keeps the RingCX token in the secret fresh, so workers never log in themselves (the exchange
 * admits 5 calls a minute). A DynamoDB lease makes runs exclusive: two runs must not both spend
 * the same refresh token, or the secret could end up holding the revoked one. A spent or revoked
 * refresh token falls back to a full JWT login. The credentials are kept in the new version.
 */
export async function refreshRingCxToken(rt: Runtime, owner = randomUUID()): Promise<RefreshResult> {
  if (!(await rt.store.acquireLease(LEASE, owner, 60_000))) {
    logger.info('another refresher run holds the lease; nothing to do');
    return { status: 'busy' };
  }
  try {
    const current = await rt.aws.secrets.send(new GetSecretValueCommand({ SecretId: rt.config.RINGCX_SECRET_ID }));
    const secret = parseRingCxSecret(current.SecretString ?? '');
    const credentials = jwtCredentialsOf(secret);
    if (!credentials) return { status: 'not-jwt' };
    const endpoints = { ringCentralBaseUrl: rt.config.RINGCENTRAL_BASE_URL, ringCxBaseUrl: rt.config.RINGCX_BASE_URL };
    let session: RingCxSession | undefined;
    let status: 'refreshed' | 'logged-in' = 'refreshed';
    if (secret.refreshToken) {
      try {
        session = await refreshSession(secret.refreshToken, endpoints);
      } catch (error) {
        if (!(error instanceof RingCxAuthError)) throw error;
        logger.warn('refresh token refused; logging in again with the JWT credentials');
      }
    }
    if (!session) {
      session = await loginWithJwt(credentials, endpoints);
      status = 'logged-in';
    }
    const expiresAt = new Date(session.expiresAt).toISOString();
    await rt.aws.secrets.send(
      new PutSecretValueCommand({
        SecretId: rt.config.RINGCX_SECRET_ID,
        SecretString: JSON.stringify({ ...secret, accessToken: session.accessToken, refreshToken: session.refreshToken, expiresAt }),
      }),
    );
    logger.info('RingCX token renewed', { status, expiresAt });
    return { status, expiresAt };
  } finally {
    await rt.store.releaseLease(LEASE, owner);
  }
}
