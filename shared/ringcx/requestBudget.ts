import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Who is asking for RingCX budget. When the tenant's budget is short, reassignment requests (the
 * priority queue) go first, then imports (the work queue), then the scheduled export; auth calls
 * (login, refresh) are rare and are never made to wait behind the others.
 */
export type BudgetPriority = 'auth' | 'reassign' | 'import' | 'export';

/**
 * What every RingCX call takes a token from before it is sent. One process-local bucket
 * (`RateLimiter`) or one tenant-wide bucket shared by every function and instance
 * (`SharedBudget`, DynamoDB): callers cannot tell the difference.
 */
export interface RequestBudget {
  /** Waits until one request may be sent. */
  acquire(): Promise<void>;
  /**
   * Takes `calls` tokens now, for the next `acquire` calls to spend without waiting: calls that must
   * go back to back (a move's removal and assignment) are paced before the first, never between.
   */
  reserve(calls: number): Promise<void>;
  /** RingCX said stop (429, Retry-After): nobody sends until `ms` from now. */
  pause(ms: number): void;
  /** Milliseconds from now until `calls` more requests would have been admitted here. */
  estimateWaitMs(calls: number): number;
  /** Milliseconds between two admissions in steady state: this caller's expected pace. */
  readonly msPerRequest: number;
}

const priorityScope = new AsyncLocalStorage<BudgetPriority>();

/** Runs work whose RingCX calls take budget at `priority`. */
export function withBudgetPriority<T>(priority: BudgetPriority, work: () => Promise<T>): Promise<T> {
  return priorityScope.run(priority, work);
}

/** The priority of the calls being made now; `fallback` outside any `withBudgetPriority`. */
export function currentBudgetPriority(fallback: BudgetPriority): BudgetPriority {
  return priorityScope.getStore() ?? fallback;
}
