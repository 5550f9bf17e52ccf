import { allowance, type BudgetControl, type BudgetLedger, capFor, GrantRate, isLate, lateStart, type SliceRules, sliceOf } from './budgetSlices';
import { TenantControl } from './budgetControl';
import { type BudgetPriority, currentBudgetPriority, type RequestBudget } from './requestBudget';
import { resolveSharedBudgetOptions, type SharedBudgetOptions } from './sharedBudgetOptions';

export type { SharedBudgetOptions } from './sharedBudgetOptions';

const RANK: Record<BudgetPriority, number> = { auth: 0, reassign: 1, import: 2, export: 3 };

interface Waiter {
  rank: number;
  priority: BudgetPriority;
  need: number;
  slices: number[]; // the slice each token granted so far came from
  resolve: (slices: number[]) => void;
}

/**
 * The tenant's RingCX budget shared by every function and instance through a ledger (DynamoDB).
 * Each slice of time has an allowance (see budgetSlices.ts); an instance takes a few tokens of the
 * current slice at a time with one conditional add, and drops whatever it has not spent shortly
 * after the slice ends (lateSpendMs), so an instance that dies holds at most part of one slice.
 * Callers in one process wait in one queue, highest priority first and first come first served
 * within a priority, and one loop takes tokens for all of them: while it has callers waiting, a
 * process makes two or three ledger requests a slice (the control read, a take early and perhaps
 * one late in it), not one per request. Every instance must be configured alike (budget, window,
 * slice, shares): each computes the allowance and caps from its own options.
 */
export class SharedBudget implements RequestBudget {
  readonly rules: SliceRules;
  private readonly ledger: BudgetLedger;
  private readonly tenantKey: string;
  private readonly fallbackPriority: BudgetPriority;
  private readonly maxLease: number;
  private readonly itemTtlMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onLedgerError: (error: unknown) => void;
  private readonly rate: GrantRate;

  private waiters: Waiter[] = [];
  /** Tokens taken and not yet granted, by slice: spendable until lateSpendMs after their slice. */
  private leases: { slice: number; tokens: number }[] = [];
  /** When to take again from a slice that had nothing left for this instance. */
  private retry = { slice: -1, at: 0 };
  private readonly lateSpendMs: number;
  /** Tokens `reserve` took, by the slice they came from, for the next `acquire` calls. */
  private prepaid: number[] = [];
  private pausedUntil = 0;
  private readonly control: TenantControl;
  private pumping = false;
  private failures = 0;

  constructor(options: SharedBudgetOptions) {
    const settings = resolveSharedBudgetOptions(options);
    this.rules = settings.rules;
    this.ledger = options.ledger;
    this.tenantKey = options.tenantKey;
    this.fallbackPriority = settings.priority;
    this.maxLease = settings.maxLease;
    this.lateSpendMs = settings.lateSpendMs;
    this.now = settings.now;
    this.sleep = settings.sleep;
    this.itemTtlMs = settings.itemTtlMs;
    this.onLedgerError = settings.onLedgerError;
    this.control = new TenantControl({ ...settings, ledger: options.ledger, tenantKey: options.tenantKey });
    this.rate = new GrantRate(this.rules.windowMs, this.rules.admittedPerWindow / this.rules.windowMs, this.rules.sliceMs);
  }

  /**
   * Milliseconds between two admissions here, from the rate this instance was granted while it
   * had callers waiting over about the last window (the full tenant rate until it knows better).
   * It cannot foresee other instances starting or stopping: when one starts, the estimate is too
   * short for about a window; when one stops, too long. Callers add their own margin.
   */
  get msPerRequest(): number {
    this.advanceRate();
    return 1 / this.rate.perMs;
  }

  private advanceRate(): void {
    this.rate.advance(this.now(), this.waiters.length > 0, Math.max(this.pausedUntil, this.control.value.pausedUntil));
  }

  estimateWaitMs(calls: number): number {
    if (calls <= 0) return 0;
    const now = this.now();
    const from = Math.max(now, this.pausedUntil, this.control.value.pausedUntil);
    const held = this.prepaid.length + this.spendable(now).reduce((sum, lease) => sum + lease.tokens, 0);
    const queued = this.waiters.reduce((sum, w) => sum + w.need - w.slices.length, 0);
    return from - now + Math.max(0, queued + calls - held) * this.msPerRequest;
  }

  async acquire(): Promise<void> {
    const reserved = this.prepaid.shift();
    if (reserved !== undefined) return this.spendReserved(reserved);
    await this.enqueue(1);
  }

  /**
   * Takes `calls` tokens, in turn with everyone else in this process, for the next `acquire` calls
   * to spend without waiting: a move's removal and assignment go back to back.
   */
  async reserve(calls: number): Promise<void> {
    if (calls <= 0) return;
    this.prepaid.push(...(await this.enqueue(calls)));
  }

  /**
   * RingCX said stop: this process stops at once and drops the tokens it holds,
   * and the pause is written for every other instance, which sees it within one slice.
   */
  pause(ms: number): void {
    if (!(ms > 0)) return;
    const until = this.now() + ms;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.leases = [];
    this.control.extend('pausedUntil', until);
  }

  private enqueue(need: number): Promise<number[]> {
    const priority = currentBudgetPriority(this.fallbackPriority);
    this.advanceRate();
    return new Promise<number[]>((resolve) => {
      const waiter: Waiter = { rank: RANK[priority], priority, need, slices: [], resolve };
      const at = this.waiters.findIndex((w) => w.rank > waiter.rank);
      if (at < 0) this.waiters.push(waiter);
      else this.waiters.splice(at, 0, waiter);
      void this.pump();
    });
  }

  /**
   * A reserved token spent after its slice ended is counted again in the slice it is spent in, so
   * that slice's counter tells the truth about what was sent in it (the earlier slice counted a
   * token that went unused there). Not awaited: the move's second call must not wait for it.
   */
  private spendReserved(slice: number): void {
    const current = sliceOf(this.now(), this.rules.sliceMs);
    if (slice >= current) return;
    this.ledger.record(this.tenantKey, current, 1, this.expiresAt()).catch(this.onLedgerError);
  }

  /** The one loop that takes tokens for this process's callers, while any are waiting. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiters.length > 0) {
        const now = this.now();
        const slice = sliceOf(now, this.rules.sliceMs);
        this.leases = this.spendable(now);
        const lease = this.leases[0];
        const pausedUntil = Math.max(this.pausedUntil, this.control.value.pausedUntil);
        if (now < pausedUntil) {
          this.leases = [];
          await this.sleep(pausedUntil - now);
        } else if (lease) {
          lease.tokens -= 1;
          this.grant(lease.slice);
        } else if (this.retry.slice === slice && now < this.retry.at) {
          await this.sleep(this.retry.at - now);
        } else {
          await this.takeFromLedger(slice);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** The leases whose tokens may still be spent at `now`, oldest first. */
  private spendable(now: number): { slice: number; tokens: number }[] {
    return this.leases.filter((lease) => lease.tokens > 0 && now < (lease.slice + 1) * this.rules.sliceMs + this.lateSpendMs);
  }

  private grant(slice: number): void {
    const head = this.waiters[0] as Waiter;
    head.slices.push(slice);
    this.advanceRate();
    this.rate.granted(1);
    if (head.slices.length >= head.need) {
      this.waiters.shift();
      head.resolve(head.slices);
    }
  }

  /**
   * One lease: read the tenant's control item (once a slice), then add to the slice's counter up
   * to what the waiting priority may use. When the counter is too high for the whole lease, what
   * is left under the cap is taken instead; when nothing is left, the next try is when the reserves
   * are released late in the slice, or the next slice. Ledger errors (throttling) are retried with
   * a doubling wait; the callers keep their places.
   */
  private async takeFromLedger(slice: number): Promise<void> {
    try {
      const control = await this.control.forSlice(slice);
      const now = this.now();
      if (control.pausedUntil > now || sliceOf(now, this.rules.sliceMs) !== slice) return;
      const head = this.waiters[0] as Waiter;
      for (const kind of ['reassign', 'export'] as const) if (this.waiters.some((w) => w.priority === kind)) this.control.signalDemand(kind, now);
      const late = isLate(now, this.rules);
      const cap = capFor(head.priority, slice, this.rules, this.demandSeen(now, control), late);
      const exporting = head.priority === 'export';
      const room = (count: number, exportCount: number) => Math.min(cap.total - count, (cap.exports ?? Infinity) - exportCount);
      const queued = this.waiters.reduce((sum, w) => sum + w.need - w.slices.length, 0);
      const wanted = Math.min(this.maxLease, queued, room(0, 0));
      let got = 0;
      const first = wanted > 0 ? await this.ledger.take(this.tenantKey, slice, wanted, cap, exporting, this.expiresAt()) : undefined;
      if (first?.taken) got = wanted;
      else if (first && room(first.count, first.exportCount) > 0) {
        const rest = Math.min(wanted, room(first.count, first.exportCount));
        if ((await this.ledger.take(this.tenantKey, slice, rest, cap, exporting, this.expiresAt())).taken) got = rest;
      }
      if (got > 0) this.leases.push({ slice, tokens: got });
      else {
        // Late in the slice only what the reserves left is released: nothing, if the slice is full.
        const whole = allowance(slice, this.rules);
        const nothingLater = late || (cap.total >= whole && cap.exports === undefined) || (first?.count ?? 0) >= whole;
        this.retry = { slice, at: nothingLater ? (slice + 1) * this.rules.sliceMs : lateStart(slice, this.rules) };
      }
      this.failures = 0;
    } catch (error) {
      this.onLedgerError(error);
      this.failures += 1;
      await this.sleep(Math.min(this.rules.windowMs / 10, 20 * 2 ** this.failures));
    }
  }

  private demandSeen(now: number, control: BudgetControl): { reassign: boolean; export: boolean } {
    const waiting = (priority: BudgetPriority) => this.waiters.some((w) => w.priority === priority);
    return {
      reassign: control.reassignWantedUntil > now || waiting('reassign'),
      export: control.exportWantedUntil > now || waiting('export'),
    };
  }

  private expiresAt(): number {
    return Math.floor((this.now() + this.itemTtlMs) / 1000);
  }
}
