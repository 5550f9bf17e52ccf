import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { type LocalStack, startLocalStack } from '../../../local/stack';
import { sqsEvent } from '../../../local/wiring/lambdaEvents';
import { type MappingInvocation, TwinEventSourceMapping } from '../../../local/twin/eventSourceMapping';
import { FunctionPool } from '../../../local/twin/functionPool';
import type { QueueSizing } from '../../../local/twin/sizing';

const entry = fileURLToPath(new URL('./probeFunction.ts', import.meta.url));
let stack: LocalStack;
let pool: FunctionPool;

beforeAll(async () => {
  // Short visibility so redeliveries come back within the test.
  stack = await startLocalStack({ dynamoEndpoint: inject('dynamoEndpoint'), tableName: `jobs-${randomUUID().slice(0, 8)}`, visibilityTimeoutSeconds: 2 });
  pool = new FunctionPool({ functionName: 'probe', entry, env: {}, timeoutMs: 1_500 });
}, 120_000);
afterAll(async () => {
  await pool?.stop();
  await stack?.stop();
});

/** A mapping of `queue` onto the probe pool, with every invocation it reports collected. */
function mappingOf(queue: 'work' | 'bulk' | 'priority', sizing: Partial<QueueSizing>) {
  const { url, arn } = stack.queues[queue];
  const invocations: MappingInvocation[] = [];
  const mapping = new TwinEventSourceMapping({
    sqs: stack.sqs,
    queueUrl: url,
    queueArn: arn,
    pool,
    sizing: { batchSize: 10, batchWindowMs: 200, maxConcurrency: 1, visibilityTimeoutMs: 2_000, maxPayloadBytes: 6 * 1024 * 1024, ...sizing },
    onInvocation: (i) => invocations.push(i),
  });
  return { mapping, invocations };
}

async function deliver(queue: 'work' | 'priority', bodies: string[], rounds: number) {
  await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: stack.queues[queue].url, Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })) }));
  const { mapping, invocations } = mappingOf(queue, {});
  while (invocations.length < rounds) if (!(await mapping.pollOnce())) await new Promise((resolve) => setTimeout(resolve, 200));
  return invocations;
}

it('deletes only the successes of a partial batch response; the failure comes back after the visibility timeout', { timeout: 120_000 }, async () => {
  const [first, second] = await deliver('work', ['ok-1', 'fail', 'ok-2'], 2);
  expect(first?.messages.map((m) => m.Body).sort()).toEqual(['fail', 'ok-1', 'ok-2']);
  expect(first?.deleted).toHaveLength(2);
  expect(second?.messages.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([['fail', '2']]);
  expect(second?.deleted).toEqual([]);
});

it('deletes nothing of a batch whose invocation was killed at its deadline; all of it is redelivered', { timeout: 120_000 }, async () => {
  const [killed, again] = await deliver('priority', ['sleep', 'ok-3'], 2);
  expect(killed?.outcome.status).toBe('timeout');
  expect(killed?.deleted).toEqual([]);
  expect(again?.messages.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount]).sort()).toEqual([
    ['ok-3', '2'],
    ['sleep', '2'],
  ]);
});

it('stops a batch before its event passes the payload cap; the records it had no room for come in the next batch, not received again', { timeout: 120_000 }, async () => {
  const { url, arn } = stack.queues.bulk;
  const bodies = Array.from({ length: 30 }, (_, i) => `ok-${String(i).padStart(2, '0')}-${'x'.repeat(2_000)}`);
  for (let i = 0; i < bodies.length; i += 10) {
    await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.slice(i, i + 10).map((body, j) => ({ Id: String(j), MessageBody: body })) }));
  }
  // Room for about eight of these records per event.
  const maxPayloadBytes = 20_000;
  const { mapping, invocations } = mappingOf('bulk', { batchSize: 100, batchWindowMs: 300, visibilityTimeoutMs: 60_000, maxPayloadBytes });
  mapping.start();
  const deadline = Date.now() + 60_000;
  while (invocations.flatMap((i) => i.messages).length < bodies.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  await mapping.stop();

  const delivered = invocations.flatMap((i) => i.messages);
  expect(delivered.map((m) => m.Body).sort()).toEqual([...bodies].sort());
  expect(invocations.length).toBeGreaterThanOrEqual(4);
  for (const invocation of invocations) {
    expect(Buffer.byteLength(JSON.stringify(sqsEvent(arn, invocation.messages)))).toBeLessThanOrEqual(maxPayloadBytes);
    expect(invocation.deleted).toHaveLength(invocation.messages.length);
  }
  // Carried records stay in flight for the next batch: no record was received twice.
  expect(delivered.every((m) => m.Attributes?.ApproximateReceiveCount === '1')).toBe(true);
});

it('whenIdle waits for the invocation in flight to end and be reported, not just for the queue to drain', { timeout: 120_000 }, async () => {
  const { url } = stack.queues.priority;
  const { mapping, invocations } = mappingOf('priority', { batchWindowMs: 50, visibilityTimeoutMs: 60_000 });
  await expect(mapping.whenIdle()).resolves.toBeUndefined();
  await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: '0', MessageBody: 'sleep' }] }));
  mapping.start();
  // The record is received (in flight) and, after the 50 ms window, handed to an invocation that
  // runs to its 1.5 s deadline.
  const { GetQueueAttributesCommand } = await import('@aws-sdk/client-sqs');
  for (let inFlight = 0; inFlight === 0; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const attributes = await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
    inFlight = Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(invocations, 'still running when whenIdle is asked').toEqual([]);
  await mapping.whenIdle();
  expect(invocations.map((i) => i.outcome.status)).toEqual(['timeout']);
  await mapping.stop();
});
