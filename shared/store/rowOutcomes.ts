import type { DesiredRow, Outcome } from '../domain/desiredRow';
import type { StateSnapshot } from '../domain/stateFingerprint';
import { aliases, type DynamoTable, type TransactItem, type Retention } from './dynamo';
import { jobKey } from './jobs';
import { declarationUpdate, type LedgerWrite, ledgerUpdate } from './ledger';
import { openJobEntry } from './openList';

/*
 *   JOB#<id> / ROW#<line>   one row's final outcome: the first write wins (conditional), except
 *                           that a redrive's real outcome replaces a gave-up failure
 *
 * Each outcome is written in one transaction with its job's counters (and its ledger entry), so
 * a job's counts always equal its rows.
 */

export interface RowOutcome {
  line: number;
  dnis: string;
  outcome: Outcome;
  detail: string;
  target: string;
  raw: string[];
  /** Set when a transient failure was recorded on the last allowed receive; a redrive may replace it. */
  gaveUp?: boolean;
  at?: string;
  /** Plan mode: what was planned and the RingCX state it was planned against (the saved plan's row). */
  planned?: { row: DesiredRow; actions: Record<string, unknown>[]; state: StateSnapshot; fingerprint: string };
}

export interface OutcomeWrite extends RowOutcome {
  /** The desired state to remember in the ledger (apply mode, success only). */
  ledger?: LedgerWrite;
  /** This write replaces an earlier gave-up failure of the same row. */
  replacesGaveUp?: boolean;
  /** Apply mode, nothing applied: remember that a file declared the number (see LedgerDeclaration). */
  declares?: boolean;
}

const rowKey = (jobId: string, line: number) => ({ pk: `JOB#${jobId}`, sk: `ROW#${String(line).padStart(10, '0')}` });

/** A transaction holds at most 100 items: 49 rows, each with its ledger item, and the job's counters. */
const ROWS_PER_TRANSACTION = 49;

export class RowOutcomes {
  constructor(
    private readonly table: DynamoTable,
    private readonly retention: Retention,
  ) {}

  /** Rejected rows are final at parse time; plain puts, so a re-run parse writes the same items. */
  async putRejected(jobId: string, rows: RowOutcome[]): Promise<void> {
    const items = rows.map((row) => ({ ...rowKey(jobId, row.line), kind: 'row', ...row, at: new Date(this.table.now()).toISOString(), expiresAt: this.table.expiresIn(this.retention.retentionDays) }));
    await this.table.batchPutItems('the rejected-row writes', items);
  }

  /** Lines of this job that already have a final outcome, and whether it was a gave-up failure. */
  async existingOutcomes(jobId: string, lines: number[]): Promise<Map<number, { outcome: Outcome; gaveUp: boolean }>> {
    const keys = [...new Set(lines)].map((line) => rowKey(jobId, line));
    const items = await this.table.batchGetItems('the outcome reads', keys, { expression: '#line, #outcome, #gaveUp', names: aliases('line', 'outcome', 'gaveUp') });
    return new Map(items.map((item) => [item.line as number, { outcome: item.outcome as Outcome, gaveUp: item.gaveUp === true }]));
  }

  /**
   * Writes final outcomes with the job's counters in one transaction per chunk. A row already
   * recorded (a duplicate delivery that raced) is dropped from the chunk and the rest retried, so
   * each row is counted exactly once. Returns the lines this call recorded.
   */
  async recordOutcomes(jobId: string, outcomes: OutcomeWrite[], apiCalls: number): Promise<number[]> {
    const recorded: number[] = [];
    let calls = apiCalls;
    for (let i = 0; i < outcomes.length; i += ROWS_PER_TRANSACTION) {
      let chunk = outcomes.slice(i, i + ROWS_PER_TRANSACTION);
      await this.table.retryContended(async () => {
        if (chunk.length === 0) return 'done';
        const { items, putIndex } = outcomeItems(this.table, this.retention.retentionDays, jobId, chunk, calls);
        const written = await this.table.transactIf(items);
        if (!written.written) {
          chunk = chunk.filter((_, index) => !written.failedItems.has(putIndex[index] as number));
          return undefined;
        }
        recorded.push(...chunk.map((o) => o.line));
        calls = 0;
        return 'done';
      });
    }
    return recorded;
  }

  /** Every row outcome of a job in line order, a page at a time. */
  rows(jobId: string): AsyncGenerator<RowOutcome> {
    return this.table.queryItems<RowOutcome>('pk = :pk AND begins_with(sk, :row)', { ':pk': `JOB#${jobId}`, ':row': 'ROW#' });
  }
}

/** The transaction for one chunk of outcomes, and the position of each row's Put in it (to read its cancellation reason). */
function outcomeItems(table: DynamoTable, retentionDays: number, jobId: string, chunk: OutcomeWrite[], apiCalls: number) {
  const at = new Date(table.now()).toISOString();
  const items: TransactItem[] = [];
  const putIndex: number[] = [];
  const delta = new Map<Outcome, number>();
  let newRows = 0;
  for (const o of chunk) {
    const { ledger, replacesGaveUp, declares, ...row } = o;
    putIndex.push(items.length);
    items.push({
      Put: {
        Item: { ...rowKey(jobId, o.line), kind: 'row', ...row, at, expiresAt: table.expiresIn(retentionDays) },
        ConditionExpression: replacesGaveUp ? '#outcome = :failed AND #gaveUp = :true' : 'attribute_not_exists(pk)',
        ...(replacesGaveUp ? { ExpressionAttributeNames: aliases('outcome', 'gaveUp'), ExpressionAttributeValues: { ':failed': 'failed', ':true': true } } : {}),
      },
    });
    if (ledger) items.push({ Update: ledgerUpdate(jobId, o.line, ledger, at) });
    else if (declares) items.push({ Update: declarationUpdate({ jobId, line: o.line, outcome: o.outcome, at }, o.dnis) });
    delta.set(o.outcome, (delta.get(o.outcome) ?? 0) + 1);
    if (replacesGaveUp) delta.set('failed', (delta.get('failed') ?? 0) - 1);
    else newRows += 1;
  }
  // A redrive that replaces a gave-up failure reopens a finished job: its reports must be rewritten.
  if (chunk.some((o) => o.replacesGaveUp)) items.push(openJobEntry(table, retentionDays, jobId));
  const names: Record<string, string> = aliases('processed', 'apiCalls', 'counts', 'lastProgressAt', { '#version': 'outcomeVersion' });
  const values: Record<string, unknown> = { ':processed': newRows, ':calls': apiCalls, ':one': 1, ':progress': table.now() };
  const adds = ['#processed :processed', '#apiCalls :calls', '#version :one'];
  [...delta.entries()].forEach(([outcome, count], index) => {
    names[`#o${index}`] = outcome;
    values[`:o${index}`] = count;
    adds.push(`#counts.#o${index} :o${index}`);
  });
  items.push({ Update: { Key: jobKey(jobId), UpdateExpression: `SET #lastProgressAt = :progress ADD ${adds.join(', ')}`, ExpressionAttributeNames: names, ExpressionAttributeValues: values } });
  return { items, putIndex };
}
