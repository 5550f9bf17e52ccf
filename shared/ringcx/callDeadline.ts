import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestBudget } from './requestBudget';

/*
 * The invocation's deadline as the RingCX calls made on its behalf see it: when a retry is still
 * worth starting, and how long a call may wait for its turn in the request budget.
 */

/** The invocation's deadline as the calls made on its behalf see it. */
export interface CallDeadline {
  remainingMs: () => number;
  /** Time that must remain after a retry for the caller to finish its own work. */
  reserveMs: number;
  /**
   * Whether the calls are owed to a number this invocation unrouted (its new assignment, or its old
   * one back). Any other call gives up (a `not-sent` error) once waiting longer for its turn in the
   * request budget would end it inside the reserve at its usual latency: the rows wait for a later
   * delivery and the invocation answers before its deadline, instead of being cut off while it
   * waits. An owed call never gives up; it goes without its turn instead (see takeTurn).
   */
  owed?: boolean;
}

const deadlineScope = new AsyncLocalStorage<CallDeadline>();

/**
 * Runs work whose RingCX calls stop retrying when another attempt, at its worst (the request
 * timeout), could end too close to the deadline: the error comes back while the caller can still
 * act on it (re-read, report, release the message), instead of the invocation being killed in the
 * middle of a backoff or of a slow attempt.
 */
export function withCallDeadline<T>(deadline: CallDeadline, work: () => Promise<T>): Promise<T> {
  return deadlineScope.run(deadline, work);
}

/** Runs work whose RingCX calls are owed to a number this invocation unrouted: they are sent before the deadline, turn or no turn (see CallDeadline.owed). */
export function withOwedCalls<T>(work: () => Promise<T>): Promise<T> {
  const deadline = deadlineScope.getStore();
  return deadline ? deadlineScope.run({ ...deadline, owed: true }, work) : work();
}

export function retryFitsDeadline(retryMs: number): boolean {
  const deadline = deadlineScope.getStore();
  return !deadline || deadline.remainingMs() - retryMs >= deadline.reserveMs;
}

/**
 * How long one attempt waits for its answer: the request timeout, cut to the time left before the
 * reserve. The invocation's admission prices calls at their usual latency, so the last call it
 * starts can meet a hang and would otherwise hold the invocation past its deadline (Middy's early
 * timeout answers for it, and every row of the batch waits out the visibility timeout). An attempt
 * cut short fails as a timeout: ambiguous, so a write is re-read before anyone decides what
 * happened. It is still given `quickMs`, time for a usual answer, however late it starts (an owed
 * call goes however late; any other is not sent at all without that much time, see takeTurn).
 */
export function attemptTimeoutMs(timeoutMs: number, quickMs: number): number {
  const deadline = deadlineScope.getStore();
  if (!deadline) return timeoutMs;
  return Math.ceil(Math.min(timeoutMs, Math.max(quickMs, deadline.remainingMs() - deadline.reserveMs)));
}

/**
 * Waits for a call's turn in the budget, within the deadline scope's bounds. A call that gives up
 * waiting throws `notSent()`: it never left this process. An owed call (CallDeadline.owed) never
 * gives up: once waiting longer would leave it too little time to end at its worst (`worstMs`,
 * the request timeout) before the reserve, it goes without its turn. One request over the pace
 * may earn a 429, which the next attempt outlives; an assignment sent after the deadline lands
 * after the invocation has answered (on Lambda, in an environment frozen until its next use), and
 * the number routes nowhere until its redelivery. The turn still comes later, to nobody, and so
 * pays that request back to the budget.
 */
export async function takeTurn(limiter: RequestBudget | undefined, latency: { expectedMs: number; worstMs: number }, notSent: () => Error): Promise<void> {
  if (!limiter) return;
  const deadline = deadlineScope.getStore();
  if (!deadline) return limiter.acquire();
  const owed = deadline.owed === true;
  const waitMs = deadline.remainingMs() - deadline.reserveMs - (owed ? latency.worstMs : latency.expectedMs);
  // Not even a turn in hand would let this call end in time. Checked before taking one, so a move's
  // reserved turns never carry a removal that its assignment has no time left to follow.
  if (waitMs <= 0 && !owed) throw notSent();
  const turn = limiter.acquire();
  if ((await arrivesWithin(turn, waitMs)) === 'late') {
    // The turn still comes, to nobody: one request of budget is spent on nothing (a call that
    // gave up) or on the owed call that went ahead of it.
    turn.catch(() => undefined);
    if (!owed) throw notSent();
  }
}

/**
 * Whether `work` settles within `ms` (with `ms` not positive, only work already settled arrives); a
 * rejection that comes first is thrown. Past `ms` the work is left running: the caller decides what
 * its late result is worth.
 */
export async function arrivesWithin(work: Promise<unknown>, ms: number): Promise<'arrived' | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), Math.max(0, ms));
  });
  try {
    return await Promise.race([work.then(() => 'arrived' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
