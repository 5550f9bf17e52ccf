import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DynamoTable, RETRY_POLICY } from '../../../shared/store/dynamo';

type Sent = { command: string; input: Record<string, any> };

/** A document client that records what is sent and answers from `answer`, in order of calls. */
function fakeClient(answer: (sent: Sent, call: number) => unknown) {
  const sent: Sent[] = [];
  const client = {
    send: vi.fn(async (command: { constructor: { name: string }; input: Record<string, any> }) => {
      const entry = { command: command.constructor.name, input: structuredClone(command.input) };
      sent.push(entry);
      const result = answer(entry, sent.length - 1);
      if (result instanceof Error) throw result;
      return result;
    }),
  };
  return { client: client as unknown as DynamoDBDocumentClient, sent };
}

function tableOn(answer: (sent: Sent, call: number) => unknown) {
  const waits: number[] = [];
  const { client, sent } = fakeClient(answer);
  const table = new DynamoTable(client, 'jobs', { now: () => 1_700_000_000_000, sleep: async (ms) => void waits.push(ms) });
  return { table, sent, waits };
}

const named = (name: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...fields });

afterEach(() => vi.restoreAllMocks());

describe('the retry policy', () => {
  it('waits twice as long before each new try of unprocessed items, never more than a second', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(RETRY_POLICY.unprocessedWaitMs)).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
  });

  it('waits a random share of a doubling wait, up to 2 s, after a contended transaction', () => {
    expect([0, 1, 5, 6, 8].map((attempt) => RETRY_POLICY.contendedWaitMs(attempt, () => 1))).toEqual([50, 100, 1_600, 2_000, 2_000]);
    expect(RETRY_POLICY.contendedWaitMs(3, () => 0.25)).toBe(100);
  });
});

describe('batches', () => {
  it('sends again only what DynamoDB left unprocessed, waiting as the policy says', async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ pk: `P${i}`, sk: 'S' }));
    const { table, sent, waits } = tableOn((entry, call) => {
      const requests = entry.input.RequestItems.jobs as unknown[];
      // The first batch of 25 comes back twice with its last two requests unprocessed, then once more with one.
      if (call === 0 || call === 1) return { UnprocessedItems: { jobs: requests.slice(-2) } };
      if (call === 2) return { UnprocessedItems: { jobs: requests.slice(-1) } };
      return {};
    });
    await table.batchPutItems('the test items', items);
    expect(sent.map((s) => (s.input.RequestItems.jobs as unknown[]).length)).toEqual([25, 2, 2, 1, 5]);
    expect(sent[3]!.input.RequestItems.jobs).toEqual([{ PutRequest: { Item: items[24] } }]);
    expect(waits).toEqual([100, 200, 400]);
  });

  it('gives up after the policy\'s tries, naming what it could not write', async () => {
    const { table, sent, waits } = tableOn((entry) => ({ UnprocessedItems: { jobs: entry.input.RequestItems.jobs } }));
    await expect(table.batchPutItems('the attempt records', [{ pk: 'A', sk: 'B' }])).rejects.toThrow('DynamoDB kept throttling the attempt records');
    expect(sent).toHaveLength(RETRY_POLICY.attempts);
    expect(waits).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
  });

  it('reads keys 100 at a time, consistently, with the projection asked for, until none is unprocessed', async () => {
    const keys = Array.from({ length: 101 }, (_, i) => ({ pk: `K${i}`, sk: 'S' }));
    const { table, sent, waits } = tableOn((entry, call) => {
      const request = entry.input.RequestItems.jobs;
      if (call === 0) return { Responses: { jobs: request.Keys.slice(1).map((k: object) => ({ ...k, line: 1 })) }, UnprocessedKeys: { jobs: { Keys: request.Keys.slice(0, 1) } } };
      return { Responses: { jobs: request.Keys.map((k: object) => ({ ...k, line: 1 })) } };
    });
    const items = await table.batchGetItems('the test reads', keys, { expression: '#line', names: { '#line': 'line' } });
    expect(items.map((item) => item.pk).sort()).toEqual(keys.map((k) => k.pk).sort());
    expect(sent.map((s) => s.input.RequestItems.jobs.Keys.length)).toEqual([100, 1, 1]);
    expect(sent.every((s) => s.command === 'BatchGetCommand' && s.input.RequestItems.jobs.ConsistentRead === true && s.input.RequestItems.jobs.ProjectionExpression === '#line')).toBe(true);
    expect(waits).toEqual([100]);
  });

  it('reads every page of a query', async () => {
    const { table, sent } = tableOn((_, call) => (call === 0 ? { Items: [{ n: 1 }, { n: 2 }], LastEvaluatedKey: { pk: 'X', sk: '2' } } : { Items: [{ n: 3 }] }));
    const found: unknown[] = [];
    for await (const item of table.queryItems('pk = :pk', { ':pk': 'X' })) found.push(item);
    expect(found).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(sent[1]!.input).toEqual({ TableName: 'jobs', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'X' }, ExclusiveStartKey: { pk: 'X', sk: '2' } });
  });
});

describe('conditional writes', () => {
  it('answers whether a put-if-absent was written, and throws anything but a failed condition', async () => {
    let answer: unknown = {};
    const { table, sent } = tableOn(() => answer);
    const put = { Item: { pk: 'A', sk: 'B' }, ConditionExpression: 'attribute_not_exists(pk)' };
    expect(await table.putIf(put)).toEqual({ written: true, attributes: undefined });
    expect(sent[0]).toEqual({ command: 'PutCommand', input: { TableName: 'jobs', ...put } });
    answer = named('ConditionalCheckFailedException');
    expect(await table.putIf(put)).toEqual({ written: false });
    answer = named('ProvisionedThroughputExceededException');
    await expect(table.putIf(put)).rejects.toThrow('ProvisionedThroughputExceededException');
  });

  it('returns the item an update-if wrote', async () => {
    const { table } = tableOn(() => ({ Attributes: { pk: 'A', status: 'running' } }));
    const update = { Key: { pk: 'A', sk: 'B' }, UpdateExpression: 'SET a = :a', ConditionExpression: 'b = :b', ReturnValues: 'ALL_NEW' as const };
    expect(await table.updateIf(update)).toEqual({ written: true, attributes: { pk: 'A', status: 'running' } });
  });

  it('names the items whose conditions cancelled a transaction, adding the table to every item', async () => {
    let answer: unknown = named('TransactionCanceledException', { CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'ConditionalCheckFailed' }] });
    const { table, sent } = tableOn(() => answer);
    const items = [
      { Put: { Item: { pk: '1' }, ConditionExpression: 'attribute_not_exists(pk)' } },
      { Put: { Item: { pk: '2' }, ConditionExpression: 'attribute_not_exists(pk)' } },
      { Update: { Key: { pk: '3' }, UpdateExpression: 'SET a = :a' } },
      { ConditionCheck: { Key: { pk: '4' }, ConditionExpression: 'attribute_exists(pk)' } },
    ];
    const result = await table.transactIf(items);
    expect(result.written).toBe(false);
    expect(!result.written && [...result.failedItems]).toEqual([1, 3]);
    expect(sent[0]!.input.TransactItems).toEqual(items.map((item) => Object.fromEntries(Object.entries(item).map(([action, input]) => [action, { TableName: 'jobs', ...input }]))));
    // Cancelled for another reason (a conflict): not the caller's condition, so it throws.
    answer = named('TransactionCanceledException', { CancellationReasons: [{ Code: 'TransactionConflict' }] });
    await expect(table.transactIf(items)).rejects.toThrow('TransactionCanceledException');
    answer = {};
    expect(await table.transactIf(items)).toEqual({ written: true });
  });
});

describe('contended transactions', () => {
  it('tries again after a jittered wait while the table is contended, and at once when the attempt asks', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const { table, waits } = tableOn(() => ({}));
    const tries: number[] = [];
    const result = await table.retryContended(async (tryNumber) => {
      tries.push(tryNumber);
      if (tryNumber === 0) throw named('TransactionConflictException');
      if (tryNumber === 1) return undefined;
      if (tryNumber === 2) throw named('ThrottlingException');
      return 'done';
    });
    expect(result).toBe('done');
    expect(tries).toEqual([0, 1, 2, 3]);
    expect(waits).toEqual([25, 100]);
  });

  it('gives up after the policy\'s tries, and never retries an error that is not contention', async () => {
    const { table, waits } = tableOn(() => ({}));
    let calls = 0;
    await expect(
      table.retryContended(async () => {
        calls += 1;
        throw named('ProvisionedThroughputExceededException');
      }),
    ).rejects.toThrow('ProvisionedThroughputExceededException');
    expect(calls).toBe(RETRY_POLICY.attempts);
    expect(waits).toHaveLength(RETRY_POLICY.attempts - 1);
    calls = 0;
    await expect(
      table.retryContended(async () => {
        calls += 1;
        throw named('ValidationException');
      }),
    ).rejects.toThrow('ValidationException');
    expect(calls).toBe(1);
  });
});
