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
   * Whether a call waits for its turn in the request budget however long it takes. By default it
   * gives up (a `not-sent` error) once even a call of usual latency would end inside the reserve:
   * the rows wait for a later delivery and the invocation answers before its deadline, instead of
   * being cut off by it while it waits. Set for the assignment a number this call unrouted is
   * owed (withEveryTurnAwaited): sent late beats not sent.
   */
  awaitEveryTurn?: boolean;
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

/** Runs work whose RingCX calls wait for their budget turn however close the deadline is (see CallDeadline.awaitEveryTurn). */
export function withEveryTurnAwaited<T>(work: () => Promise<T>): Promise<T> {
  const deadline = deadlineScope.getStore();
  return deadline ? deadlineScope.run({ ...deadline, awaitEveryTurn: true }, work) : work();
}

export function retryFitsDeadline(retryMs: number): boolean {
  const deadline = deadlineScope.getStore();
  return !deadline || deadline.remainingMs() - retryMs >= deadline.reserveMs;
}

/**
 * Waits for a call's turn in the budget, within the deadline scope's bounds (CallDeadline.awaitEveryTurn).
 * `notSent` is the error for a call that gave up waiting: it never left this process.
 */
export async function takeTurn(limiter: RequestBudget | undefined, expectedLatencyMs: number, notSent: () => Error): Promise<void> {
  if (!limiter) return;
  const deadline = deadlineScope.getStore();
  if (!deadline || deadline.awaitEveryTurn) return limiter.acquire();
  const waitMs = deadline.remainingMs() - deadline.reserveMs - expectedLatencyMs;
  if (waitMs <= 0) throw notSent();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), waitMs);
  });
  const turn = limiter.acquire().then(() => 'turn' as const);
  try {
    if ((await Promise.race([turn, late])) === 'late') {
      // The turn still comes, to nobody: one request of budget is lost, which is the price of
      // answering before the deadline.
      turn.catch(() => undefined);
      throw notSent();
    }
  } finally {
    clearTimeout(timer);
  }
}
