import type { BudgetControl, BudgetControlField, BudgetLedger } from './budgetSlices';

const NO_CONTROL: BudgetControl = { pausedUntil: 0, reassignWantedUntil: 0, exportWantedUntil: 0 };

export interface TenantControlOptions {
  ledger: BudgetLedger;
  tenantKey: string;
  /** How long a demand signal holds after it is written. */
  demandHoldMs: number;
  /** How long the control item is kept past the latest time it holds. */
  itemTtlMs: number;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  onLedgerError: (error: unknown) => void;
}

/**
 * One instance's view of the tenant's control item (pause, and who is waiting), read consistently
 * once a slice while the instance takes tokens, and the writes that move its fields forward. Writes are not awaited: a
 * pause must stop this process at once, whatever DynamoDB is doing.
 */
export class TenantControl {
  private cached = { slice: -1, value: NO_CONTROL };
  /** The slice whose background read was last started. */
  private refreshing = -1;
  private signalled: Record<'reassign' | 'export', number> = { reassign: 0, export: 0 };

  constructor(private readonly options: TenantControlOptions) {}

  /** The control item as last read (nothing known before the first read). */
  get value(): BudgetControl {
    return this.cached.value;
  }

  /**
   * The control item for a take in `slice`. The first read is awaited; after that, the item is
   * read again once a slice in the background and the take goes ahead on what was last read, so a
   * take costs one round trip, not two (with slices a few round trips long, two would often end
   * the slice before the tokens arrive). What others wrote is therefore seen within one slice and
   * one round trip; a pause found late drops the tokens taken meanwhile.
   */
  async forSlice(slice: number): Promise<BudgetControl> {
    if (this.cached.slice < 0) {
      this.cached = { slice, value: await this.options.ledger.readControl(this.options.tenantKey) };
    } else if (this.refreshing < slice && this.cached.slice < slice) {
      this.refreshing = slice;
      this.options.ledger.readControl(this.options.tenantKey).then(
        (value) => {
          if (slice > this.cached.slice) this.cached = { slice, value };
        },
        (error) => {
          this.options.onLedgerError(error);
          this.refreshing = this.cached.slice;
        },
      );
    }
    return this.cached.value;
  }

  /**
   * Tells the other instances that a reassignment or export waits here, so their imports leave
   * its share. Renewed when half the hold has run out: a few writes a window at most.
   */
  signalDemand(kind: 'reassign' | 'export', now: number): void {
    const field: BudgetControlField = kind === 'reassign' ? 'reassignWantedUntil' : 'exportWantedUntil';
    const renewAt = now + this.options.demandHoldMs / 2;
    if (this.cached.value[field] >= renewAt || this.signalled[kind] >= renewAt) return;
    this.signalled[kind] = now + this.options.demandHoldMs;
    this.extend(field, now + this.options.demandHoldMs);
  }

  /**
   * Moves a field forward for every instance; a failed write is retried a few times, then given
   * up (a lost demand signal is renewed by the next slice's; a lost pause costs more 429s, each of
   * which pauses again). The item's expiry covers the latest pause this instance knows of, so a
   * demand signal does not shorten the life of a long pause.
   */
  extend(field: BudgetControlField, until: number): void {
    const { ledger, tenantKey, itemTtlMs, now, sleep, onLedgerError } = this.options;
    const expiresAt = Math.floor((Math.max(until, this.cached.value.pausedUntil, now()) + itemTtlMs) / 1000);
    const attempt = async (tries: number): Promise<void> => {
      try {
        await ledger.extendControl(tenantKey, field, until, expiresAt);
      } catch (error) {
        onLedgerError(error);
        if (tries >= 4) return;
        await sleep(50 * 2 ** tries);
        await attempt(tries + 1);
      }
    };
    void attempt(0);
  }
}
