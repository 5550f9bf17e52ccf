import type { RequestBudget } from './requestBudget';

export interface RateLimiterOptions {
  /** Requests admitted per window, e.g. 120. */
  budget: number;
  /** The window the budget applies to, in ms. RingCX counts per minute. */
  windowMs?: number;
  /**
   * Requests that may go at once after a quiet spell. The refill rate is (budget - burst) per window,
   * so that burst + refill never exceeds the budget inside any window, however it is aligned: a
   * bucket that refilled at budget/window on top of a full burst would overrun a sliding-window
   * server by the burst size.
   */
  burst?: number;
  /** Stretches the window slightly so that network jitter cannot squeeze two windows' worth together. */
  safetyMargin?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A token bucket that one process shares between all its RingCX calls. Callers queue in order, so a
 * burst of 500 calls drains at the refill rate instead of stampeding and collecting 429s.
 */
export class RateLimiter implements RequestBudget {
  readonly budget: number;
  readonly windowMs: number;
  readonly capacity: number;
  /** Tokens per ms. */
  readonly rate: number;
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  /** Callers queued behind the bucket, not yet admitted: their tokens are spoken for. */
  private waiting = 0;
  /** Tokens taken ahead by `reserve`, spent by the next `acquire` calls without waiting. */
  private prepaid = 0;
  private tail: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: RateLimiterOptions) {
    if (!(options.budget >= 1)) throw new Error('rate limiter budget must be at least 1 request per window');
    this.budget = options.budget;
    this.windowMs = options.windowMs ?? 60_000;
    const burst = Math.max(1, Math.min(options.burst ?? Math.ceil(options.budget / 24), options.budget));
    this.capacity = burst;
    const refillPerWindow = Math.max(options.budget - burst, 1);
    this.rate = refillPerWindow / (this.windowMs * (1 + (options.safetyMargin ?? 0.02)));
    this.now = options.now ?? (() => performance.now());
    this.sleep = options.sleep ?? defaultSleep;
    this.tokens = burst;
    this.last = this.now();
  }

  /** Requests per minute this limiter admits in steady state. */
  get steadyRatePerMinute(): number {
    return this.rate * 60_000;
  }

  /** Milliseconds between two admissions in steady state: this instance's pace. */
  get msPerRequest(): number {
    return 1 / this.rate;
  }

  /**
   * How long from now until `calls` more requests would have been admitted, counting the callers
   * already queued and a pause the server asked for. The worker uses it to decide whether work it
   * has not started yet can still finish before its deadline.
   */
  estimateWaitMs(calls: number): number {
    if (calls <= 0) return 0;
    const now = this.now();
    // A pause moves `last` to its end, so refilling starts there and not before.
    const from = Math.max(now, this.last, this.pausedUntil);
    const tokens = Math.min(this.capacity, this.tokens + (from - this.last) * this.rate) + this.prepaid;
    const needed = this.waiting + calls;
    return from - now + Math.max(0, (needed - tokens) / this.rate);
  }

  /** Waits for a token. Callers are served first come, first served. */
  acquire(): Promise<void> {
    if (this.prepaid > 0) {
      this.prepaid -= 1;
      return Promise.resolve();
    }
    return this.queued();
  }

  /**
   * Takes `calls` tokens now, in turn with everyone else, for the next `acquire` calls to spend
   * without waiting. Calls that must go back to back (a move's remove and assign, between which the
   * number routes nowhere) reserve together, so the pace falls before the first and never between
   * them. The tokens come out of the bucket, so the budget holds.
   */
  async reserve(calls: number): Promise<void> {
    for (let i = 0; i < calls; i++) {
      await this.queued();
      this.prepaid += 1;
    }
  }

  private queued(): Promise<void> {
    this.waiting += 1;
    const turn = this.tail.then(() => this.take()).finally(() => {
      this.waiting -= 1;
    });
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /**
   * The server said stop (429 with Retry-After): nobody in this process sends until then, and the
   * bucket starts empty afterwards so the restart is paced too.
   */
  pause(ms: number): void {
    const until = this.now() + ms;
    if (until > this.pausedUntil) this.pausedUntil = until;
    this.tokens = 0;
    this.last = Math.max(this.last, until);
  }

  private async take(): Promise<void> {
    for (;;) {
      const now = this.now();
      if (now < this.pausedUntil) {
        await this.sleep(this.pausedUntil - now);
        continue;
      }
      if (now > this.last) {
        this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.rate);
        this.last = now;
      }
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.sleep(Math.max(1, Math.ceil((1 - this.tokens) / this.rate)));
    }
  }
}
