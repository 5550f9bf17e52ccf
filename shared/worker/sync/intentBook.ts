import { type PriorIntent, intentOf } from '../../domain/planner';
import type { IntentStore } from '../../store/intents';
import type { SyncRequest } from './contract';
import type { Work } from './work';

/**
 * What this row set out to do: from an earlier delivery (the intent store) or from an earlier
 * round of this call. An intent of this call whose write RingCX refused outright is forgotten,
 * since a refused write changed nothing.
 */
export class IntentBook {
  private readonly stored = new Map<string, PriorIntent>();
  private readonly session = new Map<string, PriorIntent>();

  constructor(private readonly store: IntentStore | undefined) {}

  async load(requests: SyncRequest[]): Promise<void> {
    const keys = requests.filter((r) => r.mode === 'apply' && r.intentKey).map((r) => r.intentKey as string);
    if (!this.store || keys.length === 0) return;
    const found = await this.store.load(keys);
    for (const request of requests) {
      const intent = request.intentKey ? found.get(request.intentKey) : undefined;
      if (intent && intent.dnis === request.row.dnis) this.stored.set(request.key, intent);
    }
  }

  prior(request: SyncRequest): PriorIntent | undefined {
    return this.stored.get(request.key) ?? this.session.get(request.key);
  }

  /** Before the writes: the first intent of a row is kept, here and in the store. */
  async record(admitted: Work[]): Promise<void> {
    const fresh: Work[] = [];
    for (const w of admitted) {
      if (this.prior(w.request)) continue;
      const intent = intentOf(w.plan, w.before);
      if (!intent) continue;
      this.session.set(w.request.key, intent);
      if (w.request.intentKey) fresh.push(w);
    }
    if (!this.store || fresh.length === 0) return;
    await this.store.record(
      fresh.map((w) => ({ key: w.request.intentKey as string, dnis: w.request.row.dnis, ...(this.session.get(w.request.key) as PriorIntent) })),
    );
  }

  endRound(w: Work): void {
    const refused = w.stopped === 'failed' || (w.stopped === 'replan' && !w.lostAnswer) || w.stopped === 'stale';
    if (refused && w.done.length === 0) this.session.delete(w.request.key);
  }
}
