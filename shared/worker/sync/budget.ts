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
}

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
    const worst = this.options.pace.worstLatencyMs?.() ?? this.options.pace.latencyMs();
    return this.costMs(calls) + Math.max(0, worst - this.options.pace.latencyMs());
  }

  fitsUnrouting(calls: number): boolean {
    return this.costUnroutingMs(calls) <= this.options.remainingMs();
  }

  /** How much time a removal must leave after itself for the assignment that follows, worst case. */
  get worstCallMs(): number {
    return this.options.pace.worstLatencyMs?.() ?? this.options.pace.latencyMs();
  }

  /** Why a unit was not started, for the row's retry reason and the logs. */
  explain(calls: number, what: string): string {
    const left = Math.max(0, this.options.remainingMs());
    return `deadline: ${seconds(left)} left in this invocation, ${what} needs about ${seconds(this.costMs(calls))} (${calls} RingCX call${calls === 1 ? '' : 's'} at this instance's pace, ${seconds(this.marginMs)} margin); left for the next delivery`;
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
