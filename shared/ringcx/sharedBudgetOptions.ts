import { type BudgetLedger, minimumHeadroom, type SliceRules } from './budgetSlices';
import type { BudgetPriority } from './requestBudget';

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
  /**
   * How long after its slice ends a token may still be spent, so that a take answered late (a slow
   * DynamoDB round trip, a busy event loop) is not wasted; the headroom covers it as it covers
   * clock skew. Defaults to sliceMs / 5.
   */
  lateSpendMs?: number;
  /** Priority of calls made outside any withBudgetPriority scope; defaults to `import`. */
  priority?: BudgetPriority;
  /**
   * Share kept from imports and exports while a reassignment waits; defaults to 0.9. A burst of
   * reassignments (a call centre moving 20 numbers at once: 60 calls, half a minute's budget)
   * must land within a window while an import runs, so imports keep only a trickle, and the
   * export keeps its minimum out of what is left.
   */
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

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The options with their defaults, checked: a headroom too small for the slices is refused. */
export function resolveSharedBudgetOptions(options: SharedBudgetOptions) {
  if (!(options.budget >= 1)) throw new Error('shared budget must admit at least 1 request per window');
  const windowMs = options.windowMs ?? 60_000;
  const sliceMs = options.sliceMs ?? windowMs / 60;
  const headroom = options.headroom ?? 0.05;
  const skew = options.clockSkewMs ?? sliceMs;
  const lateSpendMs = options.lateSpendMs ?? sliceMs / 5;
  // Spending a token late stretches its slice just as a clock running behind does.
  const needed = minimumHeadroom(windowMs, sliceMs, skew + lateSpendMs);
  if (headroom < needed) {
    throw new Error(`shared budget headroom ${headroom} is below the ${needed.toFixed(3)} that ${sliceMs} ms slices, ${skew} ms of clock skew and ${lateSpendMs} ms of late spending need`);
  }
  const rules: SliceRules = {
    windowMs,
    sliceMs,
    admittedPerWindow: options.budget * (1 - headroom),
    reassignShare: options.reassignShare ?? 0.9,
    exportShare: options.exportShare ?? 0.1,
    lateFraction: options.lateFraction ?? 1 / 3,
  };
  return {
    rules,
    lateSpendMs,
    priority: options.priority ?? ('import' as BudgetPriority),
    maxLease: Math.max(1, options.maxLease ?? 4),
    demandHoldMs: options.demandHoldMs ?? Math.max(windowMs / 12, 5 * sliceMs),
    itemTtlMs: options.itemTtlMs ?? 5 * windowMs,
    now: options.now ?? Date.now,
    sleep: options.sleep ?? defaultSleep,
    onLedgerError: options.onLedgerError ?? ((_error: unknown) => undefined),
  };
}
