import { type Dispatcher, request } from 'undici';
import { RingCxAuthError, RingCxError } from '../errors';
import { RingCentralTokenResponseSchema, RingCxTokenResponseSchema } from '../schemas';
import type { JwtCredentials } from './credentials';
import { type RequestBudget, withBudgetPriority } from '../requestBudget';

export interface AuthEndpoints {
  /** RingCentral platform, where the JWT grant happens (https://platform.ringcentral.com). */
  ringCentralBaseUrl: string;
  /** RingCX host, where the RC token is exchanged (https://ringcx.ringcentral.com). */
  ringCxBaseUrl: string;
  dispatcher?: Dispatcher;
  timeoutMs?: number;
  /**
   * The tenant's RingCX budget: the exchange and the refresh are RingCX calls and count toward it
   * (at auth priority, ahead of everything else). The RingCentral JWT grant is another service's.
   */
  budget?: RequestBudget;
}

/** A RingCX session as the refresher stores it next to the credentials. */
export interface RingCxSession {
  accessToken: string;
  refreshToken: string | undefined;
  /** Epoch ms. */
  expiresAt: number;
}

/** RingCX documents a 5-minute access token; used when the token carries no readable `exp`. */
export const RINGCX_TOKEN_LIFETIME_MS = 5 * 60_000;

export const RC_TOKEN_PATH = '/restapi/oauth/token';
export const RINGCX_EXCHANGE_PATH = '/api/auth/login/rc/accesstoken';
export const RINGCX_REFRESH_PATH = '/api/auth/token/refresh';

/**
 * Full JWT login: RingCentral JWT grant, then the RingCX exchange with `includeRefresh=true`.
 * The exchange admits 5 calls a minute, so callers (the refresher, a cold local run) do this rarely
 * and everyone else reads the resulting token from the secret.
 */
export async function loginWithJwt(credentials: JwtCredentials, endpoints: AuthEndpoints): Promise<RingCxSession> {
  const basic = Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`).toString('base64');
  const rc = await postForm(endpoints, endpoints.ringCentralBaseUrl, RC_TOKEN_PATH, {
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    assertion: credentials.jwt,
  }, { authorization: `Basic ${basic}` });
  const rcToken = RingCentralTokenResponseSchema.parse(rc);
  const exchanged = await postForm(
    endpoints,
    endpoints.ringCxBaseUrl,
    `${RINGCX_EXCHANGE_PATH}?includeRefresh=true`,
    { rcAccessToken: rcToken.access_token, rcTokenType: 'Bearer' },
  );
  return toSession(exchanged);
}

/** Trades a RingCX refresh token for a new session; the old refresh token is spent. */
export async function refreshSession(refreshToken: string, endpoints: AuthEndpoints): Promise<RingCxSession> {
  const refreshed = await postForm(endpoints, endpoints.ringCxBaseUrl, RINGCX_REFRESH_PATH, {
    refresh_token: refreshToken,
    rcTokenType: 'Bearer',
  });
  return toSession(refreshed);
}

function toSession(body: unknown): RingCxSession {
  const token = RingCxTokenResponseSchema.parse(body);
  return {
    accessToken: token.accessToken,
    refreshToken: token.refreshToken ?? undefined,
    expiresAt: jwtExpiry(token.accessToken) ?? Date.now() + RINGCX_TOKEN_LIFETIME_MS,
  };
}

/** Reads `exp` from a JWT without verifying it: only to schedule renewal, never to trust it. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

async function postForm(
  endpoints: AuthEndpoints,
  baseUrl: string,
  path: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<unknown> {
  const method = 'POST';
  const logPath = path.split('?')[0] ?? path;
  const budget = baseUrl === endpoints.ringCxBaseUrl ? endpoints.budget : undefined;
  if (budget) await withBudgetPriority('auth', () => budget.acquire());
  let response: Dispatcher.ResponseData;
  try {
    response = await request(new URL(path, baseUrl), {
      method,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
      body: new URLSearchParams(form).toString(),
      ...(endpoints.dispatcher ? { dispatcher: endpoints.dispatcher } : {}),
      signal: AbortSignal.timeout(endpoints.timeoutMs ?? 10_000),
    });
  } catch (cause) {
    throw new RingCxError({ kind: 'connection', method, path: logPath, cause });
  }
  const text = await response.body.text();
  if (response.statusCode >= 200 && response.statusCode < 300) {
    try {
      return JSON.parse(text);
    } catch {
      throw new RingCxAuthError(`${logPath} answered ${response.statusCode} with a body that is not JSON`);
    }
  }
  const status = response.statusCode;
  // 429 and 5xx are worth retrying later; anything else means the credentials are wrong.
  if (status === 429 || status >= 500) {
    throw new RingCxError({ kind: 'http', method, path: logPath, status, generalMessage: 'authentication endpoint unavailable' });
  }
  throw new RingCxAuthError(`${logPath} refused the credentials (HTTP ${status})`);
}
