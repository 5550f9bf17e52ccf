import {
  BatchGetCommand,
  BatchWriteCommand,
  type DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

/*
 * The one way the stores talk to the job table: the retry policy for what DynamoDB throttles or
 * finds contended, and conditional writes that answer whether their condition held instead of
 * throwing. Every store builds its own keys and expressions; nothing here knows an entity.
 *
 * There is no delete by key here, on purpose: the stack grants DeleteItem on the sweeper's list
 * alone, so openList.ts writes each delete out with its key and sends it with sendDelete
 * (test/infra/tableActions.test.ts checks that every delete in shared/store names an open-list key).
 */

/**
 * The table's one retry policy. A batch's items that DynamoDB leaves unprocessed (throttling) are
 * sent again after a doubling wait capped at 1 s. A transaction that collided with another writer
 * (every worker's outcomes update their job's counters) is tried again after a random share of a
 * doubling wait capped at 2 s, so the writers that collided spread apart. Both give up after
 * `attempts` tries: a caller's own retry (SQS, the next sweep) takes over from there.
 */
export const RETRY_POLICY = {
  attempts: 9,
  /** Wait before try `attempt` (1 and up) of a batch's unprocessed items. */
  unprocessedWaitMs: (attempt: number) => Math.min(1_000, 50 * 2 ** attempt),
  /** Wait after failed try `attempt` (0 and up) of a contended transaction. */
  contendedWaitMs: (attempt: number, random: () => number = Math.random) => random() * Math.min(2_000, 50 * 2 ** attempt),
} as const;

/** Errors that say the table is busy, not that the request is wrong: worth another try. */
const CONTENTION_ERRORS = new Set(['TransactionCanceledException', 'TransactionConflictException', 'ProvisionedThroughputExceededException', 'ThrottlingException']);
export const isContention = (error: unknown) => CONTENTION_ERRORS.has((error as Error)?.name);

type Key = Record<string, unknown>;
interface Expressions {
  ConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}
export interface PutInput extends Expressions {
  Item: Record<string, unknown>;
}
export interface UpdateInput extends Expressions {
  Key: Key;
  UpdateExpression: string;
  ReturnValues?: 'ALL_NEW';
}
export interface KeyedInput extends Expressions {
  Key: Key;
}
/** One item of a transaction, without its table (the helper adds it). */
export type TransactItem = { Put: PutInput } | { Update: UpdateInput } | { Delete: KeyedInput } | { ConditionCheck: KeyedInput & { ConditionExpression: string } };

/** How long the stores keep what they write, in days; every store reads what it needs from it. */
export interface Retention {
  /** A job and everything about it: rows, attempts, requests, plans, the sweeper's list, intents. */
  retentionDays: number;
  /** Audit entries answer "who moved this number" long after the job is gone: unset = kept forever. */
  auditRetentionDays?: number | undefined;
}

/** A conditional write either happened or found its condition false and changed nothing. */
export type ConditionalWrite<T = undefined> = { written: true; attributes: T } | { written: false };
/** A transaction either happened or was cancelled by these items' conditions (their positions). */
export type ConditionalTransaction = { written: true } | { written: false; failedItems: Set<number> };

export class DynamoTable {
  readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly name: string,
    options: { now?: (() => number) | undefined; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** The TTL attribute's value for an item kept `days` days from now (epoch seconds). */
  expiresIn(days: number): number {
    return Math.floor(this.now() / 1000) + days * 86_400;
  }

  /** A delete, written out by its caller with its key (see above for why). */
  async sendDelete(command: DeleteCommand): Promise<void> {
    await this.db.send(command);
  }

  /** One item, read consistently. */
  async getItem<T>(key: Key): Promise<T | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.name, Key: key, ConsistentRead: true }));
    return result.Item as T | undefined;
  }

  async putItem(input: PutInput): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.name, ...input }));
  }

  async updateItem(input: UpdateInput): Promise<void> {
    await this.db.send(new UpdateCommand({ TableName: this.name, ...input }));
  }

  /** A put whose condition may not hold (put-if-absent: `attribute_not_exists(pk)`). */
  async putIf(input: PutInput & { ConditionExpression: string }): Promise<ConditionalWrite> {
    return ifConditionHolds(async () => {
      await this.db.send(new PutCommand({ TableName: this.name, ...input }));
      return undefined;
    });
  }

  /** An update whose condition may not hold; with `ReturnValues: 'ALL_NEW'`, the item as written. */
  async updateIf(input: UpdateInput & { ConditionExpression: string }): Promise<ConditionalWrite<Record<string, unknown> | undefined>> {
    return ifConditionHolds(async () => (await this.db.send(new UpdateCommand({ TableName: this.name, ...input }))).Attributes);
  }

  /** A transaction without conditions that can fail (it may still be refused, and throws then). */
  async transact(items: TransactItem[]): Promise<void> {
    await this.db.send(new TransactWriteCommand({ TransactItems: this.withTable(items) }));
  }

  /** A transaction some of whose items' conditions may not hold; any other refusal throws. */
  async transactIf(items: TransactItem[]): Promise<ConditionalTransaction> {
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: this.withTable(items) }));
      return { written: true };
    } catch (error) {
      const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
      const failedItems = new Set(reasons.flatMap((reason, index) => (reason?.Code === 'ConditionalCheckFailed' ? [index] : [])));
      if ((error as Error).name === 'TransactionCanceledException' && failedItems.size > 0) return { written: false, failedItems };
      throw error;
    }
  }

  /** Every item under a key condition, a page at a time. */
  async *queryItems<T>(keyCondition: string, values: Record<string, unknown>): AsyncGenerator<T> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({ TableName: this.name, KeyConditionExpression: keyCondition, ExpressionAttributeValues: values, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
      );
      for (const item of page.Items ?? []) yield item as T;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  /** Items by key, read consistently, 100 to a BatchGet; `what` names them if DynamoDB keeps throttling. */
  async batchGetItems(what: string, keys: Key[], projection?: { expression: string; names: Record<string, string> }): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      await this.untilProcessed(what, keys.slice(i, i + 100), async (pending) => {
        const result = await this.db.send(
          new BatchGetCommand({
            RequestItems: {
              [this.name]: {
                Keys: pending,
                ConsistentRead: true,
                ...(projection ? { ProjectionExpression: projection.expression, ExpressionAttributeNames: projection.names } : {}),
              },
            },
          }),
        );
        items.push(...(result.Responses?.[this.name] ?? []));
        return (result.UnprocessedKeys?.[this.name]?.Keys ?? []) as Key[];
      });
    }
    return items;
  }

  /** Plain puts, 25 to a BatchWrite; `what` names them if DynamoDB keeps throttling. */
  async batchPutItems(what: string, items: Record<string, unknown>[]): Promise<void> {
    for (let i = 0; i < items.length; i += 25) {
      const requests = items.slice(i, i + 25).map((item) => ({ PutRequest: { Item: item } }));
      await this.untilProcessed(what, requests, async (pending) => {
        const result = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.name]: pending } }));
        return (result.UnprocessedItems?.[this.name] ?? []) as typeof requests;
      });
    }
  }

  /**
   * Retries a transaction the table found contended, as the retry policy says. `attempt` runs one
   * try and returns undefined to be called again at once (it changed what it sends), or its result.
   */
  async retryContended<T>(attempt: (tryNumber: number) => Promise<T | undefined>): Promise<T> {
    for (let tryNumber = 0; ; tryNumber++) {
      try {
        const result = await attempt(tryNumber);
        if (result !== undefined) return result;
      } catch (error) {
        if (!isContention(error) || tryNumber >= RETRY_POLICY.attempts - 1) throw error;
        await this.sleep(RETRY_POLICY.contendedWaitMs(tryNumber));
      }
    }
  }

  /** Sends a batch until DynamoDB has processed all of it, waiting between tries as the policy says. */
  private async untilProcessed<T>(what: string, items: T[], send: (pending: T[]) => Promise<T[]>): Promise<void> {
    let pending = items;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= RETRY_POLICY.attempts) throw new Error(`DynamoDB kept throttling ${what}`);
      if (attempt > 0) await this.sleep(RETRY_POLICY.unprocessedWaitMs(attempt));
      pending = await send(pending);
    }
  }

  private withTable(items: TransactItem[]): never[] {
    return items.map((item) => Object.fromEntries(Object.entries(item).map(([action, input]) => [action, { TableName: this.name, ...input }]))) as never[];
  }
}

async function ifConditionHolds<T>(write: () => Promise<T>): Promise<ConditionalWrite<T>> {
  try {
    return { written: true, attributes: await write() };
  } catch (error) {
    if ((error as Error)?.name === 'ConditionalCheckFailedException') return { written: false };
    throw error;
  }
}

/** `#name` aliases for attribute names: DynamoDB reserves hundreds of words (status, total, line...). */
export function aliases(...names: (string | Record<string, string>)[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of names) {
    if (typeof name === 'string') result[`#${name}`] = name;
    else Object.assign(result, name);
  }
  return result;
}
