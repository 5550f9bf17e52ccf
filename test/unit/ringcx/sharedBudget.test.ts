import { describe, expect, it } from 'vitest';
import type { BudgetControl, BudgetControlField, BudgetLedger, SliceCap, SliceTake } from '../../../shared/ringcx/budgetSlices';
import { type BudgetPriority, withBudgetPriority } from '../../../shared/ringcx/requestBudget';
import { SharedBudget, type SharedBudgetOptions } from '../../../shared/ringcx/sharedBudget';
import { maxInAnyWindow } from '../../../local/twin/requestWindows';

/**
 * Virtual time for several instances at once: a sleep is a timer, and time jumps to the earliest
 * timer only once every promise has settled, so instances interleave as they would for real.
 */
class VirtualTime {
  now = Date.UTC(2026, 10, 30, 12);
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  sleep = (ms: number) => new Promise<void>((resolve) => this.timers.push({ at: this.now + Math.max(0, ms), seq: this.seq++, resolve }));
  private async settle() {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  }
  async runFor(ms: number) {
    const end = this.now + ms;
    for (;;) {
      await this.settle();
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.now = Math.max(this.now, next.at);
      next.resolve();
    }
    this.now = end;
    await this.settle();
  }
}

/** The ledger's contract in memory; `failures` makes the next requests throw as DynamoDB throttling does. */
class MemoryLedger implements BudgetLedger {
  readonly counts = new Map<string, number>();
  readonly exportCounts = new Map<string, number>();
  readonly controls = new Map<string, BudgetControl>();
  requests = 0;
  failures = 0;
  constructor(private readonly time: VirtualTime, private readonly latencyMs = 0, private readonly takeLatencyMs = latencyMs) {}
  private async request(latencyMs = this.latencyMs) {
    this.requests += 1;
    if (latencyMs > 0) await this.time.sleep(latencyMs);
    if (this.failures > 0) {
      this.failures -= 1;
      throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), { name: 'ThrottlingException' });
    }
  }
  async take(tenant: string, slice: number, tokens: number, cap: SliceCap, exporting: boolean): Promise<SliceTake> {
    await this.request(this.takeLatencyMs);
    const key = `${tenant}#${slice}`;
    const count = this.counts.get(key) ?? 0;
    const exportCount = this.exportCounts.get(key) ?? 0;
    if (count + tokens > cap.total || (exporting && cap.exports !== undefined && exportCount + tokens > cap.exports)) return { taken: false, count, exportCount };
    this.counts.set(key, count + tokens);
    if (exporting) this.exportCounts.set(key, exportCount + tokens);
    return { taken: true, count: count + tokens, exportCount: exporting ? exportCount + tokens : exportCount };
  }
  async record(tenant: string, slice: number, tokens: number) {
    await this.request();
    this.counts.set(`${tenant}#${slice}`, (this.counts.get(`${tenant}#${slice}`) ?? 0) + tokens);
  }
  async readControl(tenant: string) {
    await this.request();
    return { ...(this.controls.get(tenant) ?? { pausedUntil: 0, reassignWantedUntil: 0, exportWantedUntil: 0 }) };
  }
  async extendControl(tenant: string, field: BudgetControlField, until: number) {
    await this.request();
    const control = this.controls.get(tenant) ?? { pausedUntil: 0, reassignWantedUntil: 0, exportWantedUntil: 0 };
    if (control[field] < until) this.controls.set(tenant, { ...control, [field]: until });
  }
}

const PRODUCTION = { tenantKey: 'tenant-a', budget: 120, windowMs: 60_000 } as const;

function instance(time: VirtualTime, ledger: BudgetLedger, options: Partial<SharedBudgetOptions> & { clockOffsetMs?: number } = {}) {
  const offset = options.clockOffsetMs ?? 0;
  return new SharedBudget({ ...PRODUCTION, ledger, now: () => time.now + offset, sleep: time.sleep, ...options });
}

/** `callers` callers that each acquire again as soon as they are admitted, until `untilMs`; admissions in real (virtual) time. */
function saturate(time: VirtualTime, budget: SharedBudget, priority: BudgetPriority, callers: number, untilMs: number, admitted: number[]) {
  for (let i = 0; i < callers; i++) {
    void withBudgetPriority(priority, async () => {
      while (time.now < untilMs) {
        await budget.acquire();
        admitted.push(time.now);
      }
    });
  }
}

describe('SharedBudget', () => {
  it('keeps every sliding minute within 120 for three instances whose clocks disagree by up to 0.9 s, and uses most of it', async () => {
    const time = new VirtualTime();
    const ledger = new MemoryLedger(time, 15);
    const admitted: number[] = [];
    const start = time.now;
    const end = start + 5 * 60_000;
    for (const clockOffsetMs of [-400, 0, 500]) saturate(time, instance(time, ledger, { clockOffsetMs }), 'import', 10, end, admitted);
    await time.runFor(5 * 60_000);
    expect(maxInAnyWindow(admitted, 60_000)).toBeLessThanOrEqual(120);
    // 114 a minute is the most the headroom leaves; a floor may cost a token or two.
    expect(admitted.length / 5).toBeGreaterThanOrEqual(112);
    // About two ledger requests per instance per second (control read and take), for 1.9 admissions.
    expect(ledger.requests / admitted.length).toBeLessThan(4);
  });

  it('admits a reassignment within one window while imports saturate, and then gives it at least its share', async () => {
    const time = new VirtualTime();
    const ledger = new MemoryLedger(time, 15);
    const imports: number[] = [];
    const end = time.now + 3 * 60_000;
    saturate(time, instance(time, ledger), 'import', 10, end, imports);
    saturate(time, instance(time, ledger), 'import', 10, end, imports);
    await time.runFor(60_000);
    const arrived = time.now;
    const reassigned: number[] = [];
    saturate(time, instance(time, ledger), 'reassign', 4, end, reassigned);
    await time.runFor(2 * 60_000);
    expect((reassigned[0] as number) - arrived).toBeLessThan(60_000);
    // Its half of 114 a minute, at least, over the two minutes it waited.
    expect(reassigned.length).toBeGreaterThanOrEqual(2 * 57 - 4);
    expect(maxInAnyWindow([...imports, ...reassigned], 60_000)).toBeLessThanOrEqual(120);
  });

  it('keeps an export its minimum share while imports saturate, and lets it take everything when alone', async () => {
    const time = new VirtualTime();
    const ledger = new MemoryLedger(time, 15);
    const imports: number[] = [];
    const exports: number[] = [];
    const start = time.now;
    saturate(time, instance(time, ledger), 'import', 10, start + 3 * 60_000, imports);
    saturate(time, instance(time, ledger), 'export', 4, start + 5 * 60_000, exports);
    await time.runFor(3 * 60_000);
    // A tenth of 114 a minute for three minutes.
    expect(exports.length).toBeGreaterThanOrEqual(3 * 11 - 2);
    const alone = exports.length;
    await time.runFor(2 * 60_000);
    // All of 114 a minute but the ten import calls already queued when the imports stopped.
    expect(exports.length - alone).toBeGreaterThanOrEqual(2 * 112 - 10);
  });

  it('stops every instance on a pause seen by one, within a slice, until the pause ends', async () => {
    const time = new VirtualTime();
    const ledger = new MemoryLedger(time, 15);
    const admitted: number[] = [];
    const pausing = instance(time, ledger);
    const end = time.now + 60_000;
    saturate(time, pausing, 'import', 5, end, admitted);
    saturate(time, instance(time, ledger), 'import', 5, end, admitted);
    await time.runFor(10_000);
    const pausedAt = time.now;
    pausing.pause(90_000);
    await time.runFor(2 * 60_000);
    const during = admitted.filter((t) => t > pausedAt + 1_000 && t < pausedAt + 90_000);
    expect(during).toHaveLength(0);
    expect(admitted.filter((t) => t >= pausedAt + 90_000).length).toBeGreaterThan(0);
  });

  it('reserves calls for a move: the second follows the first at once, and a token spent after its slice is counted where it is spent', async () => {
    const time = new VirtualTime();
    const ledger = new MemoryLedger(time);
    const budget = instance(time, ledger);
    const done = (async () => {
      await budget.reserve(2);
      const reservedAt = time.now;
      await budget.acquire();
      await time.sleep(1_500); // the removal's round trip outlasts its slice
      await budget.acquire();
      return reservedAt;
    })();
    await time.runFor(5_000);
    const reservedAt = await done;
    const sliceSpent = Math.floor((reservedAt + 1_500) / 1_000);
    expect(ledger.counts.get(`tenant-a#${sliceSpent}`)).toBe(1);
  });

  it('spends tokens answered up to lateSpendMs after their slice ended, and drops those answered later', async () => {
    const admittedAfter = async (takeLatencyMs: number) => {
      const time = new VirtualTime();
      const ledger = new MemoryLedger(time, 0, takeLatencyMs);
      const budget = instance(time, ledger);
      const start = time.now;
      let admittedAt: number | undefined;
      void budget.acquire().then(() => {
        admittedAt = time.now;
      });
      await time.runFor(5_000);
      return { after: admittedAt === undefined ? undefined : admittedAt - start, takes: [...ledger.counts.values()].reduce((a, b) => a + b, 0) };
    };
    // The take leaves at the start of a 1 s slice; the default lateSpendMs is a fifth of it.
    expect(await admittedAfter(1_150)).toEqual({ after: 1_150, takes: 1 });
    const tooLate = await admittedAfter(1_250);
    expect(tooLate.after).toBeUndefined();
    expect(tooLate.takes).toBeGreaterThan(1);
  });

  it('keeps callers in order through ledger errors, and serves a reassignment before imports queued ahead of it', async () => {
    const time = new VirtualTime();
    const ledger = new MemoryLedger(time, 5);
    const budget = instance(time, ledger);
    const order: string[] = [];
    ledger.failures = 6;
    for (const name of ['i1', 'i2', 'i3', 'i4', 'i5', 'i6']) void withBudgetPriority('import', () => budget.acquire()).then(() => order.push(name));
    void withBudgetPriority('reassign', () => budget.acquire()).then(() => order.push('r1'));
    await time.runFor(20_000);
    expect(order).toEqual(['r1', 'i1', 'i2', 'i3', 'i4', 'i5', 'i6']);
  });

  it('estimates waits from the full tenant rate at first, and from what it was granted once it shares the tenant', async () => {
    const time = new VirtualTime();
    const ledger = new MemoryLedger(time, 15);
    const alone = instance(time, ledger);
    expect(alone.msPerRequest).toBeCloseTo(60_000 / 114, 0);
    expect(alone.estimateWaitMs(10)).toBeCloseTo((10 * 60_000) / 114, -1);
    const others: number[] = [];
    const mine: number[] = [];
    const end = time.now + 3 * 60_000;
    saturate(time, instance(time, ledger), 'import', 10, end, others);
    saturate(time, instance(time, ledger), 'import', 10, end, others);
    saturate(time, alone, 'import', 10, end, mine);
    await time.runFor(2 * 60_000);
    // A third of the tenant: about 1.6 s a request, and the estimate follows what was granted.
    const actual = (60_000 * 2) / mine.length;
    expect(alone.msPerRequest).toBeGreaterThan(actual * 0.8);
    expect(alone.msPerRequest).toBeLessThan(actual * 1.25);
    alone.pause(30_000);
    expect(alone.estimateWaitMs(1)).toBeGreaterThanOrEqual(30_000);
  });

  it('refuses a headroom too small for its slices and clock skew', () => {
    const time = new VirtualTime();
    const ledger = new MemoryLedger(time);
    expect(() => instance(time, ledger, { headroom: 0.02 })).toThrow(/headroom/);
    expect(() => instance(time, ledger, { headroom: 0.05, sliceMs: 2_000, clockSkewMs: 2_000 })).toThrow(/headroom/);
  });
});
