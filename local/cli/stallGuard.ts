/**
 * Fires once when nothing has moved for `limitMs` while armed. The rows phase touches it on every
 * change of progress; phases that are bounded by their own timeouts (parsing, export) pause it.
 */
export class StallGuard {
  private lastActivity = Date.now();
  private paused = 0;
  private timer: NodeJS.Timeout | undefined;
  private fire!: () => void;
  /** Resolves when the limit passes without activity. */
  readonly stalled: Promise<void>;

  constructor(readonly limitMs: number, checkEveryMs = 1_000) {
    this.stalled = new Promise((resolve) => {
      this.fire = resolve;
    });
    this.timer = setInterval(() => {
      if (this.paused === 0 && Date.now() - this.lastActivity > this.limitMs) {
        this.stop();
        this.fire();
      }
    }, Math.min(checkEveryMs, limitMs));
    this.timer.unref();
  }

  touch(): void {
    this.lastActivity = Date.now();
  }

  /** Runs `work` with the guard paused, then counts the stall from its end. */
  async whilePaused<T>(work: () => Promise<T>): Promise<T> {
    this.paused += 1;
    try {
      return await work();
    } finally {
      this.paused -= 1;
      this.touch();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
