/**
 * How fast the twin's DynamoDB Local can take the writes an import needs, measured beside the
 * import in the same run. Each accepted row leaves durable records (its intent before the first
 * RingCX write, its outcome, its ledger entry), each written once under a condition so that
 * redeliveries cannot double-count or overwrite the truth. At ×10 the time scale shrinks RingCX's
 * window but not DynamoDB Local's answers, so these writes alone can take longer than the ideal
 * bound allows for the whole import; this puts a number on that ceiling instead of guessing it.
 */
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS } from '../local/stack';

const TRANSACTION_ITEMS = 100;
const ITEMS_PER_PROBE = 3_000;
/** Transactions in flight at once; the best of these is the ceiling. */
const PROBE_CONCURRENCY = [1, 2, 4];

function client(endpoint: string) {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS }));
}

/** Every item in the table (Select COUNT, page by page). */
export async function countItems(endpoint: string, tableName: string): Promise<number> {
  const db = client(endpoint);
  let count = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await db.send(new ScanCommand({ TableName: tableName, Select: 'COUNT', ...(start ? { ExclusiveStartKey: start as never } : {}) }));
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  db.destroy();
  return count;
}

export interface WriteRate {
  concurrency: number;
  itemsPerSecond: number;
}

/**
 * Conditional puts of row-outcome-shaped items in transactions of 100, as the worker records
 * outcomes, at 1, 2 and 4 transactions in flight. Run it with nothing else using the machine.
 * The probe's items go under their own partition and expire like a job's.
 */
export async function conditionalWriteRates(endpoint: string, tableName: string): Promise<WriteRate[]> {
  const db = client(endpoint);
  const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
  const item = (probe: string, line: number) => ({
    pk: `JOB#bench-store-ceiling-${probe}`,
    sk: `ROW#${String(line).padStart(10, '0')}`,
    kind: 'row',
    line,
    dnis: `1212${String(line).padStart(7, '0')}`,
    outcome: 'created',
    detail: 'created in the pool and assigned to queue 4501',
    target: 'queue 4501',
    raw: [`1212${String(line).padStart(7, '0')}`, `Load ${line}`, 'queue', '4501'],
    at: new Date().toISOString(),
    expiresAt,
  });
  const rates: WriteRate[] = [];
  for (const concurrency of PROBE_CONCURRENCY) {
    const probe = `${Date.now()}-${concurrency}`;
    const starts = Array.from({ length: ITEMS_PER_PROBE / TRANSACTION_ITEMS }, (_, k) => k * TRANSACTION_ITEMS);
    const began = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let from = starts.shift(); from !== undefined; from = starts.shift()) {
          const puts = Array.from({ length: TRANSACTION_ITEMS }, (_, j) => ({ Put: { TableName: tableName, Item: item(probe, from + j), ConditionExpression: 'attribute_not_exists(pk)' } }));
          await db.send(new TransactWriteCommand({ TransactItems: puts }));
        }
      }),
    );
    rates.push({ concurrency, itemsPerSecond: ITEMS_PER_PROBE / ((performance.now() - began) / 1000) });
  }
  db.destroy();
  return rates;
}
