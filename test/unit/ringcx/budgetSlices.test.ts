import { describe, expect, it } from 'vitest';
import { allowance, type BudgetLedger, capFor, GrantRate, isLate, minimumHeadroom, type SliceRules, shareOfSlice } from '../../../shared/ringcx/budgetSlices';
import { resolveSharedBudgetOptions } from '../../../shared/ringcx/sharedBudgetOptions';

const production: SliceRules = { windowMs: 60_000, sliceMs: 1_000, admittedPerWindow: 120 * 0.95, reassignShare: 0.5, exportShare: 0.1, lateFraction: 1 / 3 };
const sumOf = (from: number, count: number, rules: SliceRules) => Array.from({ length: count }, (_, i) => allowance(from + i, rules)).reduce((a, b) => a + b, 0);
const FIRST = Math.floor(Date.UTC(2026, 10, 30) / 1_000);

describe('slice allowances', () => {
  it('are whole numbers that add up exactly to the admitted rate over a window, wherever it starts', () => {
    for (let k = FIRST; k < FIRST + 600; k++) {
      expect([1, 2]).toContain(allowance(k, production));
      // 60 slices hold 114 give or take the one token a floor can move.
      expect(Math.abs(sumOf(k, 60, production) - 114)).toBeLessThanOrEqual(1);
    }
    expect(sumOf(FIRST, 600, production)).toBeGreaterThanOrEqual(1139);
    expect(sumOf(FIRST, 600, production)).toBeLessThanOrEqual(1141);
  });

  it('keep any sliding minute within 120 even when it meets 62 slices (1 s slices, 1 s of clock skew)', () => {
    expect(minimumHeadroom(60_000, 1_000, 1_000)).toBeCloseTo(2 / 62, 6);
    // Skew that is not a whole number of slices still meets a whole extra slice.
    expect(minimumHeadroom(6_000, 200, 50)).toBeCloseTo(1 - 6_000 / 6_400, 6);
    let worst = 0;
    for (let k = FIRST; k < FIRST + 3_000; k++) worst = Math.max(worst, sumOf(k, 62, production));
    expect(worst).toBeLessThanOrEqual(120);
    // Without headroom the same alignment overruns: the headroom is what holds the bound.
    const none = { ...production, admittedPerWindow: 120 };
    let worstWithout = 0;
    for (let k = FIRST; k < FIRST + 300; k++) worstWithout = Math.max(worstWithout, sumOf(k, 62, none));
    expect(worstWithout).toBeGreaterThan(120);
  });
});

describe('what each priority may take', () => {
  const idle = { reassign: false, export: false };
  it('lets everyone but an export fill a slice when nobody else is waiting; an export takes its minimum early and the rest late', () => {
    for (const p of ['auth', 'reassign', 'import'] as const) expect(capFor(p, FIRST, production, idle, false)).toEqual({ total: allowance(FIRST, production) });
    let exportsEarly = 0;
    for (let k = FIRST; k < FIRST + 60; k++) {
      const early = capFor('export', k, production, idle, false);
      expect(early.total).toBe(allowance(k, production));
      exportsEarly += early.exports as number;
      expect(capFor('export', k, production, idle, true)).toEqual({ total: allowance(k, production) });
    }
    expect(exportsEarly).toBeGreaterThanOrEqual(11);
    expect(exportsEarly).toBeLessThanOrEqual(12);
  });

  it('keeps a reassignment its share from imports and exports, and an export its minimum from imports', () => {
    let importTotal = 0;
    let exportTotal = 0;
    let reassignTotal = 0;
    const both = { reassign: true, export: true };
    for (let k = FIRST; k < FIRST + 600; k++) {
      reassignTotal += capFor('reassign', k, production, both, false).total;
      exportTotal += capFor('export', k, production, both, false).total;
      importTotal += capFor('import', k, production, both, false).total;
    }
    // Per minute: 114 for a reassignment, half of it kept from the others, a tenth more from imports.
    expect(reassignTotal / 10).toBeCloseTo(114, 0);
    expect(exportTotal / 10).toBeCloseTo(57, 0);
    // 114 - 57 - 11.4, a little more where the two whole-token reserves together exceed a slice.
    expect(importTotal / 10).toBeGreaterThanOrEqual(45);
    expect(importTotal / 10).toBeLessThanOrEqual(47);
    expect(Array.from({ length: 60 }, (_, i) => shareOfSlice(FIRST + i, 11.4, production)).reduce((a, b) => a + b)).toBeGreaterThanOrEqual(11);
  });

  it('by default leaves imports a tenth of each minute while a reassignment waits: a burst of 20 moves (60 calls) fits in one', () => {
    const { rules } = resolveSharedBudgetOptions({ ledger: {} as BudgetLedger, tenantKey: 'tenant', budget: 120 });
    const waiting = { reassign: true, export: false };
    let importTotal = 0;
    for (let k = FIRST; k < FIRST + 600; k++) importTotal += capFor('import', k, rules, waiting, false).total;
    // A tenth of 114, a little more as the reserve is whole tokens per slice (half would be 57).
    expect(importTotal / 10).toBeLessThanOrEqual(16);
    expect(rules.admittedPerWindow - importTotal / 10).toBeGreaterThanOrEqual(60);
  });

  it('releases the reserves late in the slice', () => {
    const both = { reassign: true, export: true };
    const slice = FIRST + 7;
    expect(isLate(slice * 1_000 + 600, production)).toBe(false);
    expect(isLate(slice * 1_000 + 700, production)).toBe(true);
    expect(capFor('import', slice, production, both, true)).toEqual({ total: allowance(slice, production) });
  });
});

describe('GrantRate', () => {
  it('assumes the full tenant rate until it has seen otherwise, then learns the rate it was granted while busy', () => {
    const full = 114 / 60_000;
    const rate = new GrantRate(60_000, full, 1_000);
    expect(rate.perMs).toBeCloseTo(full, 9);
    // Busy for a minute at a third of the rate; idle time afterwards does not dilute it.
    for (let t = 0; t <= 60_000; t += 1_000) {
      rate.advance(t, true);
      rate.granted(0.63);
    }
    rate.advance(120_000, false);
    // 0.63 a second is 1,587 ms a request; one slice of the optimistic prior still weighs a little.
    expect(1 / rate.perMs).toBeGreaterThan(1_400);
    expect(1 / rate.perMs).toBeLessThan(1_650);
  });
});
