import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, expect, inject, it } from 'vitest';
import { createJobTable } from '../../../local/aws/dynamodbLocal';
import { DynamoIntentStore, type Intent, rowIntentKey } from '../../../shared/store/intents';

/** Intent records against DynamoDB Local: conditional puts, many to a transaction. */

let intents: DynamoIntentStore;
const sent: number[] = [];

beforeAll(async () => {
  const table = `intents-${Date.now()}`;
  const endpoint = inject('dynamoEndpoint');
  await createJobTable(endpoint, table);
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  // Counts the transactions and their sizes, to see that intents travel many to a request.
  db.middlewareStack.add((next) => async (args) => {
    const input = (args.input ?? {}) as { TransactItems?: unknown[] };
    if (input.TransactItems) sent.push(input.TransactItems.length);
    return next(args);
  });
  intents = new DynamoIntentStore(db, table, { retentionDays: 1 });
});

const intent = (job: string, line: number, action: Intent['action'], to = 4501): Intent => ({
  key: rowIntentKey(job, line),
  dnis: `1212555${String(line).padStart(4, '0')}`,
  action,
  from: null,
  to: { type: 'gate', id: to },
  detail: `${action} to gate ${to}`,
});

it('records 250 intents in a few transactions; an intent already recorded keeps its first version, every other one is written', async () => {
  const earlier = [intent('j1', 7, 'create'), intent('j1', 120, 'create'), intent('j1', 249, 'create')];
  await intents.record(earlier);
  sent.length = 0;
  const batch = Array.from({ length: 250 }, (_, line) => intent('j1', line, 'assign', 4503));
  // The keys that already had an intent are named: another copy of those rows got there first.
  expect([...(await intents.record(batch))].sort()).toEqual([7, 120, 249].map((line) => rowIntentKey('j1', line)).sort());

  const found = await intents.load(batch.map((i) => i.key));
  expect(found.size).toBe(250);
  for (const line of [7, 120, 249]) expect(found.get(rowIntentKey('j1', line))?.action, `line ${line}`).toBe('create');
  expect([...found.values()].filter((i) => i.action === 'assign')).toHaveLength(247);
  // Three chunks of at most 100; the chunks holding an earlier intent are sent once more without it.
  expect(sent.every((size) => size <= 100)).toBe(true);
  expect(sent.length).toBeGreaterThanOrEqual(3);
  expect(sent.length).toBeLessThanOrEqual(6);
});

it('marks an intent adopted by another copy of its row, and reads the mark back', async () => {
  await intents.record([intent('j3', 1, 'create'), intent('j3', 2, 'create')]);
  await intents.markShared([rowIntentKey('j3', 1)]);
  const found = await intents.load([rowIntentKey('j3', 1), rowIntentKey('j3', 2)]);
  expect(found.get(rowIntentKey('j3', 1))).toMatchObject({ action: 'create', shared: true });
  expect(found.get(rowIntentKey('j3', 2))?.shared).toBeUndefined();
});

it('keeps the first of two intents for one key in the same call (one transaction may not write an item twice)', async () => {
  await intents.record([intent('j2', 1, 'reassign', 4502), intent('j2', 1, 'unassign'), intent('j2', 2, 'assign')]);
  const found = await intents.load([rowIntentKey('j2', 1), rowIntentKey('j2', 2)]);
  expect(found.get(rowIntentKey('j2', 1))?.action).toBe('reassign');
  expect(found.get(rowIntentKey('j2', 2))?.action).toBe('assign');
});

it('two deliveries recording the same rows at once leave one intent per key', async () => {
  const a = Array.from({ length: 150 }, (_, line) => intent('j3', line, 'create'));
  const b = Array.from({ length: 150 }, (_, line) => intent('j3', line, 'assign'));
  await Promise.all([intents.record(a), intents.record(b)]);
  const found = await intents.load(a.map((i) => i.key));
  expect(found.size).toBe(150);
  // Whichever delivery got a key first owns it; nothing is lost or half-written.
  expect([...found.values()].every((i) => i.action === 'create' || i.action === 'assign')).toBe(true);
});
