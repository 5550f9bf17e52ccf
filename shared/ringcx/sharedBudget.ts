import {
  allowance,
  type BudgetControl,
  type BudgetLedger,
  capFor,
  GrantRate,
  isLate,
  lateStart,
  minimumHeadroom,
  type SliceRules,
  sliceOf,
} from './budgetSlices';
import { TenantControl } from './budgetControl';
import { type BudgetPriority, currentBudgetPriority, type RequestBudget } from './requestBudget';

export interface SharedBudgetOptions {
  /** The shared counters (DynamoBudgetLedger in shared/store/budgetSlices.ts). */
  ledger: BudgetLedger;
  /** Names the tenant's budget: every stack and instance on one RingCX tenant must use the same key. */
  tenantKey: string;
  /** Requests RingCX admits per window, e.g. 120. */
  budget: number;
  /** RingCX counts per minute; a time-scaled twin shrinks this and everything below follows it. */
  windowMs?: number;
  /** Length of one slice of the budget; defaults to windowMs / 60 (1 s in production). */
  sliceMs?: number;
  /** Share of the budget left unused for clock skew and jitter; defaults to 0.05. */
  headroom?: number;
  /** Largest difference between two instances' clocks that the headroom must cover; defaults to sliceMs. */
  clockSkewMs?: number;
  /** Priority of calls made outside any withBudgetPriority scope; defaults to `import`. */
  priority?: BudgetPriority;
  /** Share kept from imports and exports while a reassignment waits; defaults to 0.5. */
  reassignShare?: number;
  /** An export's guaranteed minimum while imports run; defaults to 0.1. */
  exportShare?: number;
  /** Last part of each slice in which the unused reserves are anyone's; defaults to 1/3. */
  lateFraction?: number;
  /** Most tokens one instance takes from a slice in one request; defaults to 4. */
  maxLease?: number;
  /**
   * How long a waiting reassignment or export is remembered after its last signal; defaults to
   * windowMs / 12 (5 s), and at least 5 slices: the signal is renewed when half of it is left and
   * others read it once a slice, so it must outlast a renewal, a slice and two round trips.
   */
  demandHoldMs?: number;
  /** How long slice and control items are kept before DynamoDB's TTL removes them; defaults to 5 windows. */
  itemTtlMs?: number;
  /** Wall-clock epoch ms: slices are numbered on it, so every instance must use real time. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** A ledger request failed (it is retried); for logging. */
  onLedgerError?: (error: unknown) => void;
}

const RANK: Record<BudgetPriority, number> = { auth: 0, reassign: 1, import: 2, export: 3 };
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
 * current slice at a time with one conditional add, and drops whatever it has not spent when the
 * slice ends, so an instance that dies holds at most part of one slice. Callers in one process
 * wait in one queue, highest priority first and first come first served within a priority, and
 * one loop takes tokens for all of them: while it has callers waiting, a process makes two or
 * three ledger requests a slice (the control read, a take early and perhaps one late in it), not
 * one per request. Every instance must be configured alike (budget, window, slice, shares): the
 * allowance and caps are computed by each from its own options.
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
  private lease = { slice: -1, tokens: 0, retryAt: 0 };
  /** Tokens `reserve` took, by the slice they came from, for the next `acquire` calls. */
  private prepaid: number[] = [];
  private pausedUntil = 0;
  private readonly control: TenantControl;
  private pumping = false;
  private failures = 0;

  constructor(options: SharedBudgetOptions) {
    if (!(options.budget >= 1)) throw new Error('shared budget must admit at least 1 request per window');
    const windowMs = options.windowMs ?? 60_000;
    const sliceMs = options.sliceMs ?? windowMs / 60;
    const headroom = options.headroom ?? 0.05;
    const skew = options.clockSkewMs ?? sliceMs;
    const needed = minimumHeadroom(windowMs, sliceMs, skew);
    if (headroom < needed) {
      throw new Error(`shared budget headroom ${headroom} is below the ${needed.toFixed(3)} that ${sliceMs} ms slices and ${skew} ms of clock skew need`);
    }
    this.rules = {
      windowMs,
      sliceMs,
      admittedPerWindow: options.budget * (1 - headroom),
      reassignShare: options.reassignShare ?? 0.5,
      exportShare: options.exportShare ?? 0.1,
      lateFraction: options.lateFraction ?? 1 / 3,
    };
    this.ledger = options.ledger;
    this.tenantKey = options.tenantKey;
    this.fallbackPriority = options.priority ?? 'import';
    this.maxLease = Math.max(1, options.maxLease ?? 4);
    this.itemTtlMs = options.itemTtlMs ?? 5 * windowMs;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? defaultSleep;
    this.onLedgerError = options.onLedgerError ?? (() => undefined);
    this.control = new TenantControl({
      ledger: this.ledger,
      tenantKey: this.tenantKey,
      demandHoldMs: options.demandHoldMs ?? Math.max(windowMs / 12, 5 * sliceMs),
      itemTtlMs: this.itemTtlMs,
      now: this.now,
      sleep: this.sleep,
      onLedgerError: this.onLedgerError,
    });
    this.rate = new GrantRate(windowMs, this.rules.admittedPerWindow / windowMs, sliceMs);
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
    const held = this.prepaid.length + (this.lease.slice === sliceOf(now, this.rules.sliceMs) ? this.lease.tokens : 0);
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
   * RingCX said stop: this process stops at once and drops the tokens it holds for this slice,
   * and the pause is written for every other instance, which sees it within one slice.
   */
  pause(ms: number): void {
    if (!(ms > 0)) return;
    const until = this.now() + ms;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.lease.tokens = 0;
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
        if (this.lease.slice !== slice) this.lease = { slice, tokens: 0, retryAt: 0 };
        const pausedUntil = Math.max(this.pausedUntil, this.control.value.pausedUntil);
        if (now < pausedUntil) {
          this.lease.tokens = 0;
          await this.sleep(pausedUntil - now);
        } else if (this.lease.tokens > 0) {
          this.lease.tokens -= 1;
          this.grant(slice);
        } else if (now < this.lease.retryAt) {
          await this.sleep(this.lease.retryAt - now);
        } else {
          await this.takeFromLedger(slice);
        }
      }
    } finally {
      this.pumping = false;
    }
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
      if (got > 0 && sliceOf(this.now(), this.rules.sliceMs) === slice) this.lease.tokens += got;
      else if (got === 0) {
        // Late in the slice only what the reserves left is released: nothing, if the slice is full.
        const whole = allowance(slice, this.rules);
        const nothingLater = late || (cap.total >= whole && cap.exports === undefined) || (first?.count ?? 0) >= whole;
        this.lease.retryAt = nothingLater ? (slice + 1) * this.rules.sliceMs : lateStart(slice, this.rules);
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
