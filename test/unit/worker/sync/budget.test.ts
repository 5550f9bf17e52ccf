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
});
