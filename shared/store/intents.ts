import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { TargetTypeSchema } from '../domain/desiredRow';
import { DynamoTable } from './dynamo';

/*
 * An intent record says what one row (or one reassignment request) set out to change in RingCX,
 * written before the first write for it. RingCX's answer can be lost, and a worker can die after
 * the change stood but before the row's outcome was recorded. The next delivery then re-reads and
 * finds the number already as desired; the intent tells it that this job made that change, so the
 * row is reported as `created`, `assigned` or `reassigned` (confirmed by re-reading), never as
 * `unchanged`, and a move found half done is finished and reported as the move it is.
 *
 *   INTENT#<key> / INTENT   one item per row or request, first write wins, expires with the job
 */

export const IntentActionSchema = z.enum(['create', 'assign', 'reassign', 'unassign', 'update']);
export type IntentAction = z.infer<typeof IntentActionSchema>;

/** Looser than a row's target: a number found on a product this system does not manage has id -1. */
const RoutingSchema = z.object({ type: TargetTypeSchema, id: z.number().int() });

export const IntentSchema = z.object({
  /** The row's job and line, or the request id: see rowIntentKey and requestIntentKey. */
  key: z.string().min(1),
  dnis: z.string(),
  action: IntentActionSchema,
  /** Routing before the change (null: unassigned). */
  from: RoutingSchema.nullable(),
  /** Routing the change leads to (null: unassigned). */
  to: RoutingSchema.nullable(),
  /** The plan in words, as the row's detail would have said it. */
  detail: z.string(),
  at: z.string().optional(),
  /**
   * Another copy of the row (a duplicate delivery running alongside) found this intent already
   * recorded and adopted it: a write of this row refused with 409 may be that copy's doing.
   */
  shared: z.boolean().optional(),
});
export type Intent = z.infer<typeof IntentSchema>;

export interface IntentStore {
  /** The intents recorded under these keys; a key with none is absent from the map. */
  load(keys: string[]): Promise<Map<string, Intent>>;
  /**
   * Records intents before their writes. An intent already under a key is kept: the first one is
   * what the job set out to do (a later delivery that finds half of it done plans only the rest).
   * Answers the keys that already had one, whose intent this call did not write.
   */
  record(intents: Intent[]): Promise<Set<string>>;
  /** Marks intents as adopted by another copy of their row (see Intent.shared). */
  markShared(keys: string[]): Promise<void>;
}

export const rowIntentKey = (jobId: string, line: number) => `job#${jobId}#${line}`;
export const requestIntentKey = (requestId: string) => `request#${requestId}`;

const itemKey = (key: string) => ({ pk: `INTENT#${key}`, sk: 'INTENT' });

/**
 * Intents are written as conditional puts, up to 100 to a transaction (DynamoDB's limit): a batch
 * of 500 rows costs 5 round trips instead of 500 single puts. They share no item, so transactions
 * of one call run side by side without colliding.
 */
const PUTS_PER_TRANSACTION = 100;
const TRANSACTIONS_IN_FLIGHT = 4;

export class DynamoIntentStore implements IntentStore {
  private readonly table: DynamoTable;

  constructor(
    db: DynamoDBDocumentClient,
    tableName: string,
    private readonly options: { retentionDays: number; now?: () => number },
  ) {
    this.table = new DynamoTable(db, tableName, { now: options.now });
  }

  async load(keys: string[]): Promise<Map<string, Intent>> {
    const found = new Map<string, Intent>();
    for (const item of await this.table.batchGetItems('the intent reads', [...new Set(keys)].map(itemKey))) {
      const parsed = IntentSchema.safeParse(item);
      // An item this code cannot read is treated as no intent: the row is then reported by what it finds.
      if (parsed.success) found.set(parsed.data.key, parsed.data);
    }
    return found;
  }

  async record(intents: Intent[]): Promise<Set<string>> {
    // One transaction may not hold two writes to one item: the first intent of a key is the one kept.
    const seen = new Set<string>();
    const unique = intents.filter((intent) => !seen.has(intent.key) && seen.add(intent.key));
    const chunks: Intent[][] = [];
    for (let i = 0; i < unique.length; i += PUTS_PER_TRANSACTION) chunks.push(unique.slice(i, i + PUTS_PER_TRANSACTION));
    const existing = new Set<string>();
    for (let i = 0; i < chunks.length; i += TRANSACTIONS_IN_FLIGHT) {
      await Promise.all(chunks.slice(i, i + TRANSACTIONS_IN_FLIGHT).map((chunk) => this.recordChunk(chunk, existing)));
    }
    return existing;
  }

  async markShared(keys: string[]): Promise<void> {
    await Promise.all(
      [...new Set(keys)].map((key) =>
        // `shared` is one of DynamoDB's reserved words.
        this.table.updateItem({ Key: itemKey(key), UpdateExpression: 'SET #shared = :shared', ExpressionAttributeNames: { '#shared': 'shared' }, ExpressionAttributeValues: { ':shared': true } }),
      ),
    );
  }

  /**
   * One transaction of conditional puts. An intent already recorded (see IntentStore.record) fails
   * its condition and cancels the transaction: it is dropped and the rest sent again, so each key
   * keeps its first intent and every other one is written.
   */
  private async recordChunk(chunk: Intent[], existing: Set<string>): Promise<void> {
    const at = new Date(this.table.now()).toISOString();
    const expiresAt = this.table.expiresIn(this.options.retentionDays);
    let pending = chunk;
    await this.table.retryContended(async () => {
      if (pending.length === 0) return 'done';
      const written = await this.table.transactIf(
        pending.map((intent) => ({ Put: { Item: { ...itemKey(intent.key), kind: 'intent', ...intent, at, expiresAt }, ConditionExpression: 'attribute_not_exists(pk)' } })),
      );
      if (written.written) return 'done';
      for (const index of written.failedItems) existing.add((pending[index] as Intent).key);
      pending = pending.filter((_, index) => !written.failedItems.has(index));
      return undefined;
    });
  }
}

/** The same contract in memory: for unit tests and for runs that have no table. */
export class MemoryIntentStore implements IntentStore {
  readonly intents = new Map<string, Intent>();

  async load(keys: string[]): Promise<Map<string, Intent>> {
    const found = new Map<string, Intent>();
    for (const key of keys) {
      const intent = this.intents.get(key);
      if (intent) found.set(key, intent);
    }
    return found;
  }

  async record(intents: Intent[]): Promise<Set<string>> {
    const existing = new Set<string>();
    for (const intent of intents) {
      if (this.intents.has(intent.key)) existing.add(intent.key);
      else this.intents.set(intent.key, { ...intent });
    }
    return existing;
  }

  async markShared(keys: string[]): Promise<void> {
    for (const key of keys) {
      const intent = this.intents.get(key);
      if (intent) intent.shared = true;
    }
  }
}
