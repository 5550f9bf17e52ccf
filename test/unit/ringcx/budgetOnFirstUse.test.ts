import { describe, expect, it } from 'vitest';
import { BudgetOnFirstUse } from '../../../shared/ringcx/budgetOnFirstUse';
import type { RequestBudget } from '../../../shared/ringcx/requestBudget';

function recordingBudget() {
  const calls: string[] = [];
  const budget: RequestBudget = {
    acquire: async () => void calls.push('acquire'),
    reserve: async (n) => void calls.push(`reserve ${n}`),
    pause: (ms) => void calls.push(`pause ${ms > 0 ? 'positive' : ms}`),
    estimateWaitMs: (n) => n * 7,
    msPerRequest: 7,
  };
  return { budget, calls };
}

describe('BudgetOnFirstUse', () => {
  it('builds the budget once, on the first call, however many callers arrive together', async () => {
    const { budget, calls } = recordingBudget();
    let builds = 0;
    const lazy = new BudgetOnFirstUse(async () => {
      builds += 1;
      return budget;
    }, 500);
    expect(builds).toBe(0);
    // Before it exists, estimates use the assumed pace.
    expect(lazy.estimateWaitMs(4)).toBe(2_000);
    expect(lazy.msPerRequest).toBe(500);
    await Promise.all([lazy.acquire(), lazy.acquire(), lazy.reserve(2)]);
    expect(builds).toBe(1);
    expect(calls.sort()).toEqual(['acquire', 'acquire', 'reserve 2']);
    expect(lazy.estimateWaitMs(4)).toBe(28);
  });

  it('passes on a pause asked for before the budget existed', async () => {
    const { budget, calls } = recordingBudget();
    const lazy = new BudgetOnFirstUse(async () => budget, 500);
    lazy.pause(60_000);
    expect(lazy.estimateWaitMs(0)).toBeGreaterThan(59_000);
    await lazy.acquire();
    expect(calls).toEqual(['pause positive', 'acquire']);
  });

  it('fails the call when the build fails, and builds again on the next', async () => {
    const { budget } = recordingBudget();
    let attempts = 0;
    const lazy = new BudgetOnFirstUse(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('secret unreadable');
      return budget;
    }, 500);
    await expect(lazy.acquire()).rejects.toThrow('secret unreadable');
    await expect(lazy.acquire()).resolves.toBeUndefined();
    expect(attempts).toBe(2);
  });
});
