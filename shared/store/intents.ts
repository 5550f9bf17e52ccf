import { BatchGetCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { TargetTypeSchema } from '../domain/desiredRow';

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
});
export type Intent = z.infer<typeof IntentSchema>;

export interface IntentStore {
  /** The intents recorded under these keys; a key with none is absent from the map. */
  load(keys: string[]): Promise<Map<string, Intent>>;
  /**
   * Records intents before their writes. An intent already under a key is kept: the first one is
   * what the job set out to do (a later delivery that finds half of it done plans only the rest).
   */
  record(intents: Intent[]): Promise<void>;
}

export const rowIntentKey = (jobId: string, line: number) => `job#${jobId}#${line}`;
export const requestIntentKey = (requestId: string) => `request#${requestId}`;

const itemKey = (key: string) => ({ pk: `INTENT#${key}`, sk: 'INTENT' });

/** Parallel conditional puts: enough to overlap DynamoDB round trips, few enough not to throttle. */
const PUT_CONCURRENCY = 8;

export class DynamoIntentStore implements IntentStore {
  private readonly now: () => number;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly options: { retentionDays: number; now?: () => number },
  ) {
    this.now = options.now ?? Date.now;
  }

  async load(keys: string[]): Promise<Map<string, Intent>> {
    const found = new Map<string, Intent>();
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += 100) {
      let pending: Record<string, unknown>[] = unique.slice(i, i + 100).map(itemKey);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await sleep(Math.min(1_000, 50 * 2 ** attempt));
        if (attempt > 8) throw new Error('DynamoDB kept throttling the intent reads');
        const result = await this.db.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
        );
        for (const item of result.Responses?.[this.table] ?? []) {
          const parsed = IntentSchema.safeParse(item);
          // An item this code cannot read is treated as no intent: the row is then reported by what it finds.
          if (parsed.success) found.set(parsed.data.key, parsed.data);
        }
        pending = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return found;
  }

  async record(intents: Intent[]): Promise<void> {
    const at = new Date(this.now()).toISOString();
    const expiresAt = Math.floor(this.now() / 1000) + this.options.retentionDays * 86_400;
    for (let i = 0; i < intents.length; i += PUT_CONCURRENCY) {
      await Promise.all(
        intents.slice(i, i + PUT_CONCURRENCY).map(async (intent) => {
          try {
            await this.db.send(
              new PutCommand({
                TableName: this.table,
                Item: { ...itemKey(intent.key), kind: 'intent', ...intent, at, expiresAt },
                ConditionExpression: 'attribute_not_exists(pk)',
              }),
            );
          } catch (error) {
            if ((error as { name?: string })?.name !== 'ConditionalCheckFailedException') throw error;
          }
        }),
      );
    }
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

  async record(intents: Intent[]): Promise<void> {
    for (const intent of intents) if (!this.intents.has(intent.key)) this.intents.set(intent.key, { ...intent });
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
