import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../shared/ringcx/rateLimiter';
import { maxInAnyWindow } from '../../../local/twin/requestWindows';

/** A virtual clock: sleeping advances time instantly, so the test measures admissions, not seconds. */
function virtualClock() {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

describe('RateLimiter', () => {
  it('never admits more than the budget in any sliding window, for a burst of 1,000', async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ budget: 120, windowMs: 60_000, burst: 10, ...clock });
    const admitted: number[] = [];
    await Promise.all(
      Array.from({ length: 1_000 }, () => limiter.acquire().then(() => admitted.push(clock.now()))),
    );
    expect(admitted).toHaveLength(1_000);
    expect(maxInAnyWindow(admitted, 60_000)).toBeLessThanOrEqual(120);
    // ...and it is not wastefully slow: steady state is within 10% of the budget.
    const minutes = (admitted.at(-1) as number) / 60_000;
    expect(1_000 / minutes).toBeGreaterThan(108);
  });

  it('reserves calls that must go back to back: the pace falls before the first, none between them, and the budget holds', async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ budget: 27, windowMs: 6_000, burst: 1, ...clock });
    const admitted: number[] = [];
    for (let move = 0; move < 50; move++) {
      await limiter.reserve(2);
      const reservedAt = clock.now();
      await limiter.acquire();
      admitted.push(clock.now());
      await limiter.acquire();
      admitted.push(clock.now());
      // The second call of the pair is not paced after the first.
      expect(admitted.at(-1)).toBe(reservedAt);
    }
    expect(maxInAnyWindow(admitted, 6_000)).toBeLessThanOrEqual(27);
    // Tokens held for a pair count as available, not as owed.
    await limiter.reserve(1);
    expect(limiter.estimateWaitMs(1)).toBe(0);
  });

  it('admits the burst at once after a quiet spell', async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ budget: 120, windowMs: 60_000, burst: 5, ...clock });
    for (let i = 0; i < 5; i++) await limiter.acquire();
    expect(clock.now()).toBe(0);
    await limiter.acquire();
    expect(clock.now()).toBeGreaterThan(0);
  });

  it('holds everyone during a pause and restarts with an empty bucket', async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ budget: 60, windowMs: 60_000, burst: 5, ...clock });
    limiter.pause(10_000);
    await limiter.acquire();
    expect(clock.now()).toBeGreaterThanOrEqual(10_000 + 1_000);
  });

  it('serves waiters in arrival order', async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ budget: 10, windowMs: 1_000, burst: 1, ...clock });
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map((i) => limiter.acquire().then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it("estimates when calls not yet made will be admitted: this instance's pace, its queue and a pause", async () => {
    const clock = virtualClock();
    // 27 a minute with a burst of 2: a steady 25 per minute (2% stretched) = 2,448 ms apart.
    const limiter = new RateLimiter({ budget: 27, windowMs: 60_000, burst: 2, ...clock });
    expect(limiter.estimateWaitMs(2)).toBe(0);
    expect(limiter.estimateWaitMs(3)).toBeCloseTo(limiter.msPerRequest, 6);
    await limiter.acquire();
    await limiter.acquire();
    expect(limiter.estimateWaitMs(10)).toBeCloseTo(10 * limiter.msPerRequest, 6);
    expect(limiter.msPerRequest).toBeCloseTo((60_000 * 1.02) / 25, 6);
    // Queued callers come first.
    const queued = limiter.acquire();
    expect(limiter.estimateWaitMs(1)).toBeCloseTo(2 * limiter.msPerRequest, 6);
    await queued;
    limiter.pause(30_000);
    expect(limiter.estimateWaitMs(1)).toBeCloseTo(30_000 + limiter.msPerRequest, 6);
  });

  it('rejects a budget below one', () => {
    expect(() => new RateLimiter({ budget: 0 })).toThrow(/at least 1/);
  });
});
