import { ZodError } from 'zod';
import { SecretTokenProvider } from '../../shared/ringcx/auth/tokenProvider';
import { RC_TOKEN_PATH } from '../../shared/ringcx/auth/exchange';
import { RingCxClient } from '../../shared/ringcx/client';
import { isRingCxError, RingCxAuthError, RingCxError } from '../../shared/ringcx/errors';

export interface ProbeTarget {
  ringCxBaseUrl: string;
  /** Where a JWT login starts; only contacted when the credentials are of that form. */
  ringCentralBaseUrl: string;
  secretJson: string;
  timeoutMs?: number;
}

/**
 * One login (when the credentials need it) and one cheap read, the same way the worker will make
 * them. Resolves with undefined when RingCX answered, or with one line naming the host and the
 * problem. Nothing in the line comes from the credentials.
 */
export async function probeRingCx(target: ProbeTarget): Promise<string | undefined> {
  const timeoutMs = target.timeoutMs ?? 10_000;
  const endpoints = { ringCentralBaseUrl: target.ringCentralBaseUrl, ringCxBaseUrl: target.ringCxBaseUrl, timeoutMs };
  const tokens = new SecretTokenProvider({ readSecret: async () => target.secretJson, endpoints, selfLogin: true });
  const client = new RingCxClient({ baseUrl: target.ringCxBaseUrl, tokenProvider: tokens, timeoutMs, retry: { maxAttempts: 2, baseDelayMs: 200, maxDelayMs: 1_000 } });
  try {
    await client.searchPools({}, { maxRows: 1 });
    return undefined;
  } catch (error) {
    return describeProbeFailure(error, target);
  }
}

export function describeProbeFailure(error: unknown, target: Pick<ProbeTarget, 'ringCxBaseUrl' | 'ringCentralBaseUrl'>): string {
  const ringCx = `RingCX at ${origin(target.ringCxBaseUrl)}`;
  const ringCentral = `RingCentral at ${origin(target.ringCentralBaseUrl)}`;
  if (error instanceof RingCxAuthError) {
    const where = error.message.startsWith(RC_TOKEN_PATH) ? ringCentral : ringCx;
    return `${where} refused the credentials: ${error.message}`;
  }
  if (isRingCxError(error)) {
    const where = error.path === RC_TOKEN_PATH ? ringCentral : ringCx;
    if (error.kind === 'connection') return `cannot reach ${where}: ${connectionReason(error)}`;
    if (error.kind === 'timeout') return `cannot reach ${where}: no answer in time`;
    if (error.status === 401 || error.status === 403) return `${where} refused the credentials: ${error.summary}`;
    return `${where} answered the probe with an error: ${error.summary}`;
  }
  if (error instanceof ZodError) return `${ringCx} gave an answer that is not RingCX's (is RINGCX_BASE_URL right?)`;
  return `probing ${ringCx} failed: ${(error as Error)?.message ?? String(error)}`;
}

/** The innermost cause's code, in words: ECONNREFUSED says more than "connection failed". */
export function connectionReason(error: RingCxError): string {
  const codes = new Set<string>();
  for (let cause: unknown = error.cause; cause && codes.size < 8; cause = (cause as { cause?: unknown }).cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') codes.add(code);
    for (const inner of (cause as { errors?: unknown[] }).errors ?? []) {
      const innerCode = (inner as { code?: unknown }).code;
      if (typeof innerCode === 'string') codes.add(innerCode);
    }
  }
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_SOCKET: 'connection closed by the server',
    CERT_HAS_EXPIRED: 'its TLS certificate has expired',
    DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
    ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host',
    EPROTO: 'TLS handshake failed (is it http, not https?)',
  };
  for (const code of codes) if (words[code]) return words[code];
  return codes.size > 0 ? [...codes].join(', ') : 'connection failed';
}

export function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
