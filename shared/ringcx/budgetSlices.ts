import type { BudgetPriority } from './requestBudget';

/*
 * The arithmetic of the tenant-wide budget (SharedBudget), and the small storage interface it
 * takes tokens through. Storage is an interface here, implemented in shared/store/budgetSlices.ts,
 * because shared/ringcx must not import shared/store: the budget's rules (what a slice holds, who
 * may take how much of it) stay here, where they can be tested without a table, and the store only
 * knows how to add to a counter under a condition.
 *
 * Time is cut into slices of `sliceMs`, numbered from the epoch (slice k spans [k·s, (k+1)·s) on
 * each instance's own clock). Slice k admits `allowance(k)` = floor((k+1)·r) - floor(k·r) requests,
 * r = budget·(1 - headroom)·s/W: whole numbers whose sum over any M consecutive slices is
 * floor((k+M)·r) - floor(k·r) ≤ ceil(M·r).
 *
 * Why the headroom: a token of slice k is spent while that slice runs on the clock of the instance
 * that took it. With instance clocks at most D apart, slice k's spending falls inside a real-time
 * interval of s + D, so a sliding window of W (RingCX's minute) meets at most
 * M = ceil((W + s + D)/s) slices, and admits at most ceil(M·r) ≤ budget as long as
 * M·s·(1 - headroom) ≤ W, i.e. headroom ≥ 1 - W/(M·s). In production (W = 60 s, s = 1 s,
 * D = 1 s: M = 62) that is 3.2%; the default 5% leaves about one more request a minute for
 * network jitter between sending a request and RingCX counting it.
 */

/** What the shared table says about a tenant, read consistently, at most once a slice. */
export interface BudgetControl {
  /** Epoch ms until which RingCX asked every caller of this tenant to stop (a 429). */
  pausedUntil: number;
  /** Epoch ms until which a reassignment is waiting somewhere: imports leave its reserve alone. */
  reassignWantedUntil: number;
  /** Epoch ms until which an export is waiting somewhere: imports leave its minimum alone. */
  exportWantedUntil: number;
}
export type BudgetControlField = keyof BudgetControl;

/**
 * How far a take may bring a slice's counters: `total` for every request taken from the slice,
 * and, for an export early in the slice, `exports` for the requests exports took from it.
 */
export interface SliceCap {
  total: number;
  exports?: number | undefined;
}

/** A conditional add to one slice's counters: it either took the tokens, or found these counts too high. */
export interface SliceTake {
  taken: boolean;
  /** Requests taken from the slice, after the take or as the refusal found them. */
  count: number;
  /** The part of `count` that exports took. */
  exportCount: number;
}

/**
 * Where the counters live, shared by every function and instance (DynamoDB in production). Each
 * method is one request; the caller owns retries.
 */
export interface BudgetLedger {
  /**
   * Adds `tokens` to slice `slice`'s counter (and to its export counter when `exporting`) if the
   * results stay within `cap`.
   */
  take(tenantKey: string, slice: number, tokens: number, cap: SliceCap, exporting: boolean, expiresAtSeconds: number): Promise<SliceTake>;
  /**
   * Adds `tokens` whatever the counter holds: a token reserved in an earlier slice and spent in
   * this one is counted where it is spent (see SharedBudget.acquire).
   */
  record(tenantKey: string, slice: number, tokens: number, expiresAtSeconds: number): Promise<void>;
  readControl(tenantKey: string): Promise<BudgetControl>;
  /** Moves one control field forward to `until` (never back: the later pause or demand wins). */
  extendControl(tenantKey: string, field: BudgetControlField, until: number, expiresAtSeconds: number): Promise<void>;
}

export interface SliceRules {
  windowMs: number;
  sliceMs: number;
  /** Requests per window every slice together admits: budget·(1 - headroom). */
  admittedPerWindow: number;
  /** Share of each slice kept from imports and exports while a reassignment waits. */
  reassignShare: number;
  /** Share of each slice kept from imports while an export waits: the export's minimum. */
  exportShare: number;
  /** The last part of a slice (0..1) in which anyone may take what the reserves left unused. */
  lateFraction: number;
}

/** The smallest headroom that keeps every sliding window within the budget (see above). */
export function minimumHeadroom(windowMs: number, sliceMs: number, clockSkewMs: number): number {
  // The epsilon keeps a float like 62.00000000001 from counting as 63 slices.
  const slicesMet = Math.ceil((windowMs + sliceMs + clockSkewMs) / sliceMs - 1e-9);
  return 1 - windowMs / (slicesMet * sliceMs);
}

export const sliceOf = (now: number, sliceMs: number) => Math.floor(now / sliceMs);

/**
 * floor(k·perSlice) for a rate given as a fraction of a window, computed so that every instance
 * gets the same whole number (the tiny epsilon keeps 10·1.9 from flooring to 18).
 */
function cumulative(slice: number, perWindow: number, rules: SliceRules): number {
  return Math.floor((slice * perWindow * rules.sliceMs) / rules.windowMs + 1e-9);
}

/** Whole tokens of a rate (per window) that fall in slice `slice`; they sum exactly to the rate. */
export function shareOfSlice(slice: number, perWindow: number, rules: SliceRules): number {
  return cumulative(slice + 1, perWindow, rules) - cumulative(slice, perWindow, rules);
}

export const allowance = (slice: number, rules: SliceRules) => shareOfSlice(slice, rules.admittedPerWindow, rules);

export interface Demand {
  reassign: boolean;
  export: boolean;
}

/**
 * How far a caller of `priority` may fill slice `slice`. Reassignments and auth calls may fill it.
 * While a reassignment waits somewhere, the others leave its share; while an export waits, imports
 * leave the export's minimum. Exports come last: early in a slice an export takes only its
 * minimum (counted apart, since imports may already have filled the rest) and the rest only late,
 * once imports had their turn. Both reserves are whole tokens spread over slices like the
 * allowance itself, so a 10% minimum of 1.9 tokens a slice is one token every five or six slices.
 * Late in a slice everything is anyone's: a token nobody took is wasted when the slice ends.
 */
export function capFor(priority: BudgetPriority, slice: number, rules: SliceRules, demand: Demand, late: boolean): SliceCap {
  const whole = allowance(slice, rules);
  if (late || priority === 'auth' || priority === 'reassign') return { total: whole };
  const forReassign = demand.reassign ? shareOfSlice(slice, rules.admittedPerWindow * rules.reassignShare, rules) : 0;
  const forExport = shareOfSlice(slice, rules.admittedPerWindow * rules.exportShare, rules);
  if (priority === 'export') return { total: Math.max(0, whole - forReassign), exports: forExport };
  return { total: Math.max(0, whole - forReassign - (demand.export ? forExport : 0)) };
}

/** Whether `now` falls in the part of its slice where the reserves are released. */
export function isLate(now: number, rules: SliceRules): boolean {
  const into = now - sliceOf(now, rules.sliceMs) * rules.sliceMs;
  return into >= rules.sliceMs * (1 - rules.lateFraction);
}

/** When the late part of slice `slice` begins. */
export const lateStart = (slice: number, rules: SliceRules) => slice * rules.sliceMs + rules.sliceMs * (1 - rules.lateFraction);

/**
 * The grant rate an instance has seen while it had callers waiting: tokens and busy time, both
 * decaying with a time constant of one window of busy time, so the last busy window counts most.
 * `priorMs` of the full rate stand in for what is not known yet: a new instance assumes it gets
 * the whole tenant rate and learns otherwise within a few slices.
 */
export class GrantRate {
  private tokens = 0;
  private busyMs = 0;
  private last: number | undefined;

  constructor(
    private readonly windowMs: number,
    private readonly fullRatePerMs: number,
    private readonly priorMs: number,
  ) {}

  /**
   * Time passes up to `now`, with callers waiting during it or not, and paused until `pausedUntil`
   * (RingCX's Retry-After, which the wait estimate adds on its own). Only busy time ages what was
   * learned: after an idle spell the instance still expects what it got before it, rather than
   * the optimistic prior (an underestimate gets invocations cut off mid-work).
   */
  advance(now: number, busy: boolean, pausedUntil = 0): void {
    // Time spent in a pause is not time the budget was slow to grant: it is left out.
    const from = Math.max(this.last ?? now, Math.min(now, pausedUntil));
    if (busy && now > from) {
      const keep = Math.exp(-(now - from) / this.windowMs);
      this.tokens *= keep;
      // Busy time integrated with the same decay: windowMs·(1 - keep) ≈ dt for a short dt.
      this.busyMs = this.busyMs * keep + this.windowMs * (1 - keep);
    }
    this.last = Math.max(now, this.last ?? now);
  }

  granted(tokens: number): void {
    this.tokens += tokens;
  }

  /** Tokens per ms, never above the tenant's full rate. */
  get perMs(): number {
    const rate = (this.tokens + this.fullRatePerMs * this.priorMs) / (this.busyMs + this.priorMs);
    return Math.min(this.fullRatePerMs, rate);
  }
}
