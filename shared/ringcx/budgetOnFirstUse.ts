import type { RequestBudget } from './requestBudget';

/**
 * A budget built on first use: the shared budget is keyed by the tenant, which is known only once
 * the credentials have been read (a network call a cold start should not make before it has work).
 * Until then, estimates assume this caller's fair pace; a pause asked for before it exists is
 * passed on when it does. A failed build (the secret unreadable) fails that call and is tried
 * again on the next.
 */
export class BudgetOnFirstUse implements RequestBudget {
  private built: RequestBudget | undefined;
  private building: Promise<RequestBudget> | undefined;
  private pauseUntil = 0;

  constructor(
    private readonly build: () => Promise<RequestBudget>,
    private readonly assumedMsPerRequest: number,
  ) {}

  async acquire(): Promise<void> {
    return (await this.budget()).acquire();
  }

  async reserve(calls: number): Promise<void> {
    return (await this.budget()).reserve(calls);
  }

  pause(ms: number): void {
    if (this.built) this.built.pause(ms);
    else this.pauseUntil = Math.max(this.pauseUntil, Date.now() + ms);
  }

  estimateWaitMs(calls: number): number {
    if (this.built) return this.built.estimateWaitMs(calls);
    return Math.max(0, this.pauseUntil - Date.now()) + Math.max(0, calls) * this.assumedMsPerRequest;
  }

  get msPerRequest(): number {
    return this.built?.msPerRequest ?? this.assumedMsPerRequest;
  }

  private budget(): Promise<RequestBudget> {
    if (this.built) return Promise.resolve(this.built);
    this.building ??= this.build().then(
      (budget) => {
        this.built = budget;
        const pauseLeft = this.pauseUntil - Date.now();
        if (pauseLeft > 0) budget.pause(pauseLeft);
        return budget;
      },
      (error: unknown) => {
        this.building = undefined;
        throw error;
      },
    );
    return this.building;
  }
}
