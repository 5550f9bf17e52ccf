import type { RingCxError } from './errors';

export interface RetryPolicy {
  /** Total HTTP attempts for one call, the first included. */
  maxAttempts: number;
  /** Full-jitter exponential backoff: attempt n waits random(0, min(maxDelayMs, baseDelayMs * 2^(n-1))). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A 429 without Retry-After backs off from this base instead: the budget refills per minute, not per ms. */
  rateLimitBaseDelayMs: number;
  /** A Retry-After longer than this is not waited for in-process; the call fails as retryable. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  rateLimitBaseDelayMs: 2_000,
  maxRetryAfterMs: 60_000,
};

/** A failed attempt, as far as the decision to try again goes. */
export interface FailedAttempt {
  error: Pick<RingCxError, 'retryable' | 'ambiguous' | 'status'>;
  attempt: number;
  /** False for a request that must not be sent twice (see RequestSpec.repeatable). */
  repeatable: boolean | undefined;
  /** The server's Retry-After, in ms, when it sent one. */
  retryAfterMs: number | undefined;
}

/**
 * How long to wait before the next attempt, or undefined when there is to be none: the failure is
 * final, the request may already have taken effect and must not be repeated, the attempts are used
 * up, or the server asks for a longer wait than is worth spending in-process.
 */
export function retryDelay(policy: RetryPolicy, failed: FailedAttempt, random: () => number): number | undefined {
  const unsafeToRepeat = failed.repeatable === false && failed.error.ambiguous;
  if (!failed.error.retryable || unsafeToRepeat || failed.attempt >= policy.maxAttempts) return undefined;
  return backoff(policy, failed.attempt, failed.error.status === 429, failed.retryAfterMs, random);
}

/** Full jitter, floored by Retry-After when the server sent one. */
function backoff(policy: RetryPolicy, attempt: number, rateLimited: boolean, retryAfterMs: number | undefined, random: () => number): number | undefined {
  if (retryAfterMs !== undefined && retryAfterMs > policy.maxRetryAfterMs) return undefined;
  const base = rateLimited ? policy.rateLimitBaseDelayMs : policy.baseDelayMs;
  const ceiling = Math.min(policy.maxDelayMs, base * 2 ** (attempt - 1));
  const jitter = Math.floor(random() * ceiling);
  return retryAfterMs !== undefined ? Math.max(retryAfterMs, jitter) : jitter;
}

export function parseRetryAfter(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}
