/**
 * How long RingCX calls not yet made will take on this instance: the limiter's queue and pace, and
 * how long an admitted call takes to answer.
 */
export interface CallPace {
  /** Milliseconds from now until `calls` more requests would have been admitted. */
  estimateWaitMs(calls: number): number;
  /** Milliseconds one admitted call takes to answer. */
  latencyMs(): number;
  /**
   * The longest one call can take before the client gives up on it (its request timeout). A move's
   * assignment is only started with this much time ahead of it: once the number is unrouted, its
   * new assignment must not be cut off by the deadline however slow RingCX has become. Defaults
   * to latencyMs().
   */
  worstLatencyMs?(): number;
  /**
   * Share of this instance's recent RingCX attempts that failed (5xx, timeout, lost connection),
   * between 0 and 1. Defaults to 0.
   */
  failureRate?(): number;
  /** Attempts the client makes at most for one call. Defaults to 1. */
  maxAttempts?(): number;
}

/**
 * Above this recent failure rate no number is unrouted: RingCX is failing more calls than it
 * answers, so a removal would likely be followed by assignments that fail until the deadline.
 * The rows wait for a later delivery, their numbers still routed where they were.
 */
export const UNROUTING_FAILURE_LIMIT = 0.5;
/** The chance, at most, that every attempt a move's assignment is priced for fails. */
const UNPRICED_FAILURE_CHANCE = 0.01;

export interface DeadlineOptions {
  /** Time left in the invocation (Lambda's `context.getRemainingTimeInMillis`). */
  remainingMs: () => number;
  pace: CallPace;
  /**
   * Kept free after the last call: recording outcomes, writing reports, answering SQS. Defaults to
   * a tenth of the time left when the batch starts, between 1 and 10 seconds, so it shrinks with a
   * time-scaled twin as the timeout does.
   */
  marginMs?: number;
}

/**
 * Decides whether a unit of work (one array call, one move, one read) can still finish before the
 * invocation's deadline. Work that cannot is not started at all: a row that is not started is
 * retried whole by the next delivery, whereas a move cut in half leaves a live number unrouted.
 */
export class InvocationDeadline {
  readonly marginMs: number;

  constructor(private readonly options: DeadlineOptions) {
    this.marginMs = options.marginMs ?? Math.min(10_000, Math.max(1_000, options.remainingMs() / 10));
  }

  /**
   * Calls are sequential and each starts once admitted: the last one starts when the limiter has
   * admitted all of them or when the calls before it have answered, whichever is later.
   */
  costMs(calls: number): number {
    if (calls <= 0) return 0;
    const latency = this.options.pace.latencyMs();
    return Math.max(this.options.pace.estimateWaitMs(calls), (calls - 1) * latency) + latency + this.marginMs;
  }

  fits(calls: number): boolean {
    return this.costMs(calls) <= this.options.remainingMs();
  }

  /**
   * Work that unroutes a number before its last call (a move that removes first): its last call,
   * the one that routes the number again, is priced at its worst case, not its usual latency.
   */
  costUnroutingMs(calls: number): number {
    return this.costMs(calls) + Math.max(0, this.worstCallMs - this.options.pace.latencyMs());
  }

  fitsUnrouting(calls: number): boolean {
    return this.failureRate() <= UNROUTING_FAILURE_LIMIT && this.costUnroutingMs(calls) <= this.options.remainingMs();
  }

  /**
   * How much time a removal must leave after itself for the assignment that follows, worst case:
   * each attempt the assignment may need runs to the request timeout. A healthy RingCX prices one
   * attempt; the more of this instance's recent attempts failed, the more attempts are priced (as
   * many as make it unlikely, below 1 in 100, that all of them fail), up to the client's limit.
   * A move then starts only while its number can be routed again before the deadline, even if
   * RingCX fails the first assignments.
   */
  get worstCallMs(): number {
    return this.worstAttemptMs * this.assignmentAttemptsPriced();
  }

  /** The longest one attempt can take: the request timeout. */
  get worstAttemptMs(): number {
    return this.options.pace.worstLatencyMs?.() ?? this.options.pace.latencyMs();
  }

  assignmentAttemptsPriced(): number {
    const limit = Math.max(1, this.options.pace.maxAttempts?.() ?? 1);
    const rate = this.failureRate();
    if (rate <= UNPRICED_FAILURE_CHANCE) return 1;
    if (rate >= 1) return limit;
    return Math.min(limit, Math.max(1, Math.ceil(Math.log(UNPRICED_FAILURE_CHANCE) / Math.log(rate))));
  }

  failureRate(): number {
    return Math.min(1, Math.max(0, this.options.pace.failureRate?.() ?? 0));
  }

  /** Why a unit was not started, for the row's retry reason and the logs. */
  explain(calls: number, what: string, unroutes = false): string {
    const rate = this.failureRate();
    if (unroutes && rate > UNROUTING_FAILURE_LIMIT) {
      return `RingCX failed ${Math.round(rate * 100)}% of this instance's recent calls; ${what} waits for the next delivery, its number still routed`;
    }
    const left = Math.max(0, this.options.remainingMs());
    const cost = unroutes ? this.costUnroutingMs(calls) : this.costMs(calls);
    return `deadline: ${seconds(left)} left in this invocation, ${what} needs about ${seconds(cost)} (${calls} RingCX call${calls === 1 ? '' : 's'} at this instance's pace, ${seconds(this.marginMs)} margin); left for the next delivery`;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
