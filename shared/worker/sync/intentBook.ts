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
  private readonly lookedUp = new Set<string>();
  /** Requests whose intent this call wrote to the store. */
  private readonly recorded = new Set<string>();

  constructor(private readonly store: IntentStore | undefined) {}

  /**
   * Loads the stored intents of requests not looked up yet, once per request: after that the store
   * also holds this call's own intents, and one whose write was refused must stay forgotten.
   */
  async load(requests: SyncRequest[]): Promise<void> {
    const fresh = requests.filter((r) => !this.lookedUp.has(r.key));
    for (const request of fresh) this.lookedUp.add(request.key);
    const keys = fresh.filter((r) => r.mode === 'apply' && r.intentKey).map((r) => r.intentKey as string);
    if (!this.store || keys.length === 0) return;
    const found = await this.store.load(keys);
    for (const request of fresh) {
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
    const existing = await this.store.record(
      fresh.map((w) => ({ key: w.request.intentKey as string, dnis: w.request.row.dnis, ...(this.session.get(w.request.key) as PriorIntent) })),
    );
    // A key that already had an intent that is not this call's own: another copy of the row (a
    // duplicate delivery running alongside) got there first, and its intent is what the job set
    // out to do. It is adopted, so this copy reports the other's create as `created`, not as the
    // `assigned` its own later plan would say. This call's own earlier intent (for a write RingCX
    // then refused, forgotten by endRound) is not.
    const adopt = fresh.filter((w) => existing.has(w.request.intentKey as string) && !this.recorded.has(w.request.key));
    for (const w of fresh) if (!existing.has(w.request.intentKey as string)) this.recorded.add(w.request.key);
    if (adopt.length === 0) return;
    // Marked before this copy writes anything, so the other copy, whose write this copy's may
    // then beat, can tell its 409 came from the same job (reclaimShared).
    await this.store.markShared(adopt.map((w) => w.request.intentKey as string));
    const found = await this.store.load(adopt.map((w) => w.request.intentKey as string));
    for (const w of adopt) {
      const intent = found.get(w.request.intentKey as string);
      if (intent && intent.dnis === w.request.row.dnis) this.stored.set(w.request.key, intent);
    }
  }

  /**
   * A write of this call refused with 409, under an intent this call recorded that another copy of
   * the row has since adopted: the conflict is most likely that copy's write, the same job's
   * change, so the intent is kept rather than forgotten. (Unmarked, the 409 is someone else's
   * change, and endRound forgets the intent.)
   */
  async reclaimShared(works: Work[]): Promise<void> {
    const refused = works.filter((w) => w.stopped === 'replan' && !w.lostAnswer && this.recorded.has(w.request.key) && !this.stored.has(w.request.key));
    if (!this.store || refused.length === 0) return;
    const found = await this.store.load(refused.map((w) => w.request.intentKey as string));
    for (const w of refused) {
      const intent = found.get(w.request.intentKey as string);
      if (intent?.shared && intent.dnis === w.request.row.dnis) this.stored.set(w.request.key, intent);
    }
  }

  endRound(w: Work): void {
    const refused = w.stopped === 'failed' || (w.stopped === 'replan' && !w.lostAnswer) || w.stopped === 'stale';
    if (refused && w.done.length === 0) this.session.delete(w.request.key);
  }
}
