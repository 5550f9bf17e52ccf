import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, retryDelay } from '../../../shared/ringcx/retryPolicy';

const policy = { ...DEFAULT_RETRY_POLICY, maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000, rateLimitBaseDelayMs: 2_000, maxRetryAfterMs: 10_000 };
const failure = (status: number, extra: { attempt?: number; repeatable?: boolean; retryAfterMs?: number; ambiguous?: boolean } = {}) => ({
  error: { status, retryable: status === 429 || status >= 500, ambiguous: extra.ambiguous ?? status >= 500 },
  attempt: extra.attempt ?? 1,
  repeatable: extra.repeatable,
  retryAfterMs: extra.retryAfterMs,
});
const alwaysTop = () => 0.999999;

describe('retryDelay', () => {
  it('backs off with full jitter under a ceiling that doubles per attempt up to the maximum', () => {
    expect(retryDelay(policy, failure(503, { attempt: 1 }), alwaysTop)).toBe(99);
    expect(retryDelay(policy, failure(503, { attempt: 3 }), alwaysTop)).toBe(399);
    expect(retryDelay(policy, failure(503, { attempt: 3 }), () => 0)).toBe(0);
    expect(retryDelay({ ...policy, maxAttempts: 10 }, failure(503, { attempt: 8 }), alwaysTop)).toBe(999);
  });

  it('backs a 429 off from the rate-limit base, and never waits less than Retry-After', () => {
    expect(retryDelay(policy, failure(429, { attempt: 1 }), alwaysTop)).toBe(999);
    expect(retryDelay(policy, failure(429, { attempt: 1, retryAfterMs: 5_000 }), () => 0)).toBe(5_000);
  });

  it('makes no further attempt for a final failure, used-up attempts, a too-long Retry-After, or an ambiguous failure of a write not safe to repeat', () => {
    const random = () => {
      throw new Error('no jitter is drawn for an attempt that is not made');
    };
    expect(retryDelay(policy, failure(400), random)).toBeUndefined();
    expect(retryDelay(policy, failure(503, { attempt: 4 }), random)).toBeUndefined();
    expect(retryDelay(policy, failure(503, { repeatable: false }), random)).toBeUndefined();
    expect(retryDelay(policy, failure(429, { retryAfterMs: 60_000 }), alwaysTop)).toBeUndefined();
    // A 429 was never acted on, so even a create is sent again.
    expect(retryDelay(policy, failure(429, { repeatable: false, ambiguous: false }), alwaysTop)).toBe(999);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds or an HTTP date, and nothing else', () => {
    expect(parseRetryAfter('3')).toBe(3_000);
    expect(parseRetryAfter(['2', '9'])).toBe(2_000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:10 GMT', 4_000)).toBe(6_000);
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:01 GMT', 4_000)).toBe(0);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter(' ')).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
