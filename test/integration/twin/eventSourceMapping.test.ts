import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { type LocalStack, startLocalStack } from '../../../local/stack';
import { type MappingInvocation, TwinEventSourceMapping } from '../../../local/twin/eventSourceMapping';
import { FunctionPool } from '../../../local/twin/functionPool';

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

async function deliver(queue: 'work' | 'priority', bodies: string[], rounds: number) {
  const { url, arn } = stack.queues[queue];
  await stack.sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: bodies.map((body, i) => ({ Id: String(i), MessageBody: body })) }));
  const invocations: MappingInvocation[] = [];
  const mapping = new TwinEventSourceMapping({
    sqs: stack.sqs,
    queueUrl: url,
    queueArn: arn,
    pool,
    sizing: { batchSize: 10, batchWindowMs: 200, maxConcurrency: 1, visibilityTimeoutMs: 2_000 },
    onInvocation: (i) => invocations.push(i),
  });
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
