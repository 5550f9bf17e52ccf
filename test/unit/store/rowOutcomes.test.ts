import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { DynamoTable } from '../../../shared/store/dynamo';
import { type OutcomeWrite, RowOutcomes } from '../../../shared/store/rowOutcomes';

const named = (name: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...fields });

const outcome = (line: number): OutcomeWrite => ({ line, dnis: `1212555${String(line).padStart(4, '0')}`, outcome: 'created', detail: 'created', target: '', raw: [] });

/** RowOutcomes over a client whose transactions answer from `answers`, in order; it records each transaction's items. */
function outcomesOn(answers: unknown[]) {
  const transactions: Record<string, any>[][] = [];
  const waits: number[] = [];
  const client = {
    send: vi.fn(async (command: { input: { TransactItems: Record<string, any>[] } }) => {
      transactions.push(structuredClone(command.input.TransactItems));
      const answer = answers.shift() ?? {};
      if (answer instanceof Error) throw answer;
      return answer;
    }),
  } as unknown as DynamoDBDocumentClient;
  const store = new RowOutcomes(new DynamoTable(client, 'jobs', { now: () => 1_700_000_000_000, sleep: async (ms) => void waits.push(ms) }), { retentionDays: 7 });
  return { store, transactions, waits };
}

const rowLines = (items: Record<string, any>[]) => items.filter((item) => item.Put?.Item.kind === 'row').map((item) => item.Put.Item.line as number);
const counters = (items: Record<string, any>[]) => items.at(-1)!.Update.ExpressionAttributeValues;

describe('recording row outcomes', () => {
  it('drops a row another delivery recorded first and writes the rest, counting each row once', async () => {
    // Item 2 is row 2's Put (rows 1 and 2 have no ledger item): its condition failed.
    const raced = named('TransactionCanceledException', { CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }] });
    const { store, transactions, waits } = outcomesOn([raced]);
    const recorded = await store.recordOutcomes('J1', [outcome(1), outcome(2), outcome(3)], 6);
    expect(recorded).toEqual([1, 3]);
    expect(transactions.map(rowLines)).toEqual([[1, 2, 3], [1, 3]]);
    expect(counters(transactions[1]!)).toMatchObject({ ':processed': 2, ':calls': 6 });
    expect(waits).toEqual([]);
    expect(transactions[0]![0]).toMatchObject({ Put: { TableName: 'jobs', ConditionExpression: 'attribute_not_exists(pk)', Item: { pk: 'JOB#J1', sk: 'ROW#0000000001', expiresAt: 1_700_000_000 + 7 * 86_400 } } });
  });

  it('tries a contended transaction again, and charges the batch\'s RingCX calls to its first chunk only', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(1);
    const { store, transactions, waits } = outcomesOn([named('TransactionConflictException'), {}, {}]);
    const rows = Array.from({ length: 50 }, (_, i) => outcome(i + 1));
    expect(await store.recordOutcomes('J1', rows, 9)).toEqual(rows.map((r) => r.line));
    expect(transactions.map((t) => rowLines(t).length)).toEqual([49, 49, 1]);
    expect(transactions.map((t) => counters(t)[':calls'])).toEqual([9, 9, 0]);
    expect(waits).toEqual([50]);
    vi.restoreAllMocks();
  });

  it('replaces a gave-up failure, moving its count from failed, and puts the job back on the sweeper\'s list', async () => {
    const { store, transactions } = outcomesOn([{}]);
    await store.recordOutcomes('J1', [{ ...outcome(4), replacesGaveUp: true }], 0);
    const items = transactions[0]!;
    expect(items[0]).toMatchObject({ Put: { ConditionExpression: '#outcome = :failed AND #gaveUp = :true' } });
    expect(items[1]).toMatchObject({ Put: { TableName: 'jobs', Item: { pk: 'OPEN', sk: 'JOB#J1', kind: 'open' } } });
    expect(counters(items)).toMatchObject({ ':processed': 0, ':o0': 1, ':o1': -1 });
    expect(items.at(-1)!.Update.ExpressionAttributeNames).toMatchObject({ '#o0': 'created', '#o1': 'failed' });
  });
});
