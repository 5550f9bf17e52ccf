import { describe, expect, it } from 'vitest';
import { InvocationDeadline } from '../../../../shared/worker/sync/budget';

describe('InvocationDeadline', () => {
  const pace = (msPerCall: number, latencyMs: number) => ({ estimateWaitMs: (calls: number) => calls * msPerCall, latencyMs: () => latencyMs });

  it("costs calls at this instance's pace, plus the last call's answer and the margin", () => {
    const deadline = new InvocationDeadline({ remainingMs: () => 120_000, pace: pace(2_222, 300), marginMs: 5_000 });
    expect(deadline.costMs(0)).toBe(0);
    expect(deadline.costMs(2)).toBe(2 * 2_222 + 300 + 5_000);
    expect(deadline.fits(50)).toBe(true);
    expect(deadline.fits(52)).toBe(false);
  });

  it('is bound by latency when answers are slower than the pace', () => {
    const deadline = new InvocationDeadline({ remainingMs: () => 10_000, pace: pace(100, 1_000), marginMs: 1_000 });
    expect(deadline.costMs(5)).toBe(4 * 1_000 + 1_000 + 1_000);
  });

  it('keeps a margin that scales with the timeout, within 1 to 10 s', () => {
    expect(new InvocationDeadline({ remainingMs: () => 120_000, pace: pace(0, 0) }).marginMs).toBe(10_000);
    expect(new InvocationDeadline({ remainingMs: () => 12_000, pace: pace(0, 0) }).marginMs).toBe(1_200);
    expect(new InvocationDeadline({ remainingMs: () => 3_000, pace: pace(0, 0) }).marginMs).toBe(1_000);
  });

  it('says why work was left for the next delivery', () => {
    const deadline = new InvocationDeadline({ remainingMs: () => 4_000, pace: pace(2_000, 0), marginMs: 1_000 });
    expect(deadline.explain(2, 'this move')).toBe(
      "deadline: 4.0 s left in this invocation, this move needs about 5.0 s (2 RingCX calls at this instance's pace, 1.0 s margin); left for the next delivery",
    );
  });

  describe('a move that unroutes a number', () => {
    const unhealthy = (failureRate: number) => ({ ...pace(100, 200), worstLatencyMs: () => 1_500, maxAttempts: () => 3, failureRate: () => failureRate });

    it('prices its assignment at one worst-case attempt while RingCX answers', () => {
      const deadline = new InvocationDeadline({ remainingMs: () => 10_000, pace: unhealthy(0), marginMs: 1_000 });
      expect(deadline.assignmentAttemptsPriced()).toBe(1);
      expect(deadline.costUnroutingMs(2)).toBe(deadline.costMs(2) + 1_500 - 200);
    });

    it('prices more attempts the more of recent calls failed, up to the client limit', () => {
      expect(new InvocationDeadline({ remainingMs: () => 10_000, pace: unhealthy(0.05), marginMs: 1_000 }).assignmentAttemptsPriced()).toBe(2);
      expect(new InvocationDeadline({ remainingMs: () => 10_000, pace: unhealthy(0.2), marginMs: 1_000 }).assignmentAttemptsPriced()).toBe(3);
      const failing = new InvocationDeadline({ remainingMs: () => 10_000, pace: unhealthy(0.45), marginMs: 1_000 });
      expect(failing.worstCallMs).toBe(3 * 1_500);
      // 4 s left covers the move with one attempt at worst (2.7 s), not with three (5.7 s).
      const late = new InvocationDeadline({ remainingMs: () => 4_000, pace: unhealthy(0.3), marginMs: 1_000 });
      expect(late.fitsUnrouting(2)).toBe(false);
      expect(new InvocationDeadline({ remainingMs: () => 4_000, pace: unhealthy(0), marginMs: 1_000 }).fitsUnrouting(2)).toBe(true);
    });

    it('is not started while RingCX fails most calls, and says so', () => {
      const deadline = new InvocationDeadline({ remainingMs: () => 100_000, pace: unhealthy(0.6), marginMs: 1_000 });
      expect(deadline.fits(2)).toBe(true);
      expect(deadline.fitsUnrouting(2)).toBe(false);
      expect(deadline.explain(2, 'this move', true)).toBe("RingCX failed 60% of this instance's recent calls; this move waits for the next delivery, its number still routed");
    });
  });
});
