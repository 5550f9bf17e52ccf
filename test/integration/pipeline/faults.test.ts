import { DeleteMessageBatchCommand, PurgeQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { runFile, readRun, startIngestPipeline } from '../../helpers/ingest';
import type { Pipeline } from '../../helpers/pipeline';
import { seededRandom } from '../../helpers/random';

let pipeline: Pipeline;
let sim: RingCxSimulator;

beforeAll(async () => {
  pipeline = await startIngestPipeline({
    maxReceiveCount: 3,
    env: { RINGCX_MAX_ATTEMPTS: '3' },
    simulator: { random: seededRandom(7) },
    batchSize: 10,
  });
  sim = pipeline.stack.simulator as RingCxSimulator;
});
afterAll(() => pipeline?.stop());
beforeEach(async () => {
  sim.reset();
  sim.setKnobs({ faults: { errorRate: 0, forced429: 0, throttleUntil: 0, timeoutRate: 0, resetRate: 0 }, rateLimit: { retryAfter: true } });
  for (const queue of [pipeline.stack.queues.work, pipeline.stack.queues.workDlq, pipeline.stack.queues.bulk, pipeline.stack.queues.bulkDlq]) {
    await pipeline.stack.sqs.send(new PurgeQueueCommand({ QueueUrl: queue.url }));
  }
});

const file = (prefix: number, count: number) =>
  ['dnis,description,target_type,target_id', ...Array.from({ length: count }, (_, i) => `1212555${prefix + i},Line ${i},queue,${4501 + (i % 3)}`)].join('\n');

describe('RingCX having a bad day', () => {
  it('completes every row through a 429 storm', async () => {
    // Two seconds of nothing but 429s with Retry-After.
    sim.setKnobs({ faults: { throttleUntil: Date.now() + 2_000 } });
    const run = await runFile(pipeline, 'incoming/storm.csv', file(4000, 30));
    expect(run.summary.outcomes).toEqual({ created: 30 });
    expect(sim.apiCalls().filter((e) => e.status === 429).length).toBeGreaterThan(0);
    for (let i = 0; i < 30; i++) expect(sim.state.assignments.get(`1212555${4000 + i}`)?.id).toBe(4501 + (i % 3));
  });

  it('completes every row through 5xx bursts, connection resets and timeouts', async () => {
    sim.setKnobs({ faults: { errorRate: 0.3, resetRate: 0.05, timeoutRate: 0.05, hangMs: 3_000 } });
    const run = await runFile(pipeline, 'incoming/bursts.csv', file(4100, 30));
    // A row whose create landed but whose assign failed transiently is "assigned" on its retry.
    const { created = 0, assigned = 0, ...others } = run.summary.outcomes;
    expect(others).toEqual({});
    expect(created + assigned).toBe(30);
    for (let i = 0; i < 30; i++) expect(sim.state.assignments.get(`1212555${4100 + i}`)?.id).toBe(4501 + (i % 3));
    const statuses = new Set(sim.apiCalls().map((e) => String(e.status)));
    expect([...statuses].some((s) => s === '500' || s === '503')).toBe(true);
    expect(sim.state.events.filter((e) => e.kind === 'duplicate-create')).toHaveLength(0);
  });

  it('records a row that exhausts its retries as failed, completes the job, and keeps the message in the DLQ for redrive', async () => {
    sim.setKnobs({ faults: { errorRate: 1 } });
    const event = await pipeline.putCsv('incoming/hopeless.csv', file(4200, 2));
    const [parsed] = (await pipeline.runParser(event)) as { jobId: string; status: string }[];
    await pipeline.drain();
    const run = await readRun(pipeline, 'incoming/hopeless.csv', parsed as { jobId: string; status: string });
    expect(run.summary).toMatchObject({ status: 'completed', outcomes: { failed: 2 } });
    expect(run.rows.get(2)?.detail).toMatch(/^gave up after 3 attempts: 50[03]/);
    // Plain creates: cheap rows, so their messages sit in the bulk queue's DLQ.
    expect(await pipeline.queueDepth(pipeline.stack.queues.bulkDlq.url)).toBe(2);
    expect(run.failed.trim().split('\r\n')).toHaveLength(3);

    // RingCX recovers; an operator redrives the DLQ. The rows complete and the reports are rewritten.
    sim.setKnobs({ faults: { errorRate: 0 } });
    const { sqs, queues } = pipeline.stack;
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.bulkDlq.url, MaxNumberOfMessages: 10 }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queues.bulk.url, Entries: (dead.Messages ?? []).map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' })) }));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queues.bulkDlq.url, Entries: (dead.Messages ?? []).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    await pipeline.drain();
    const redriven = await readRun(pipeline, 'incoming/hopeless.csv', parsed as { jobId: string; status: string });
    expect(redriven.summary.outcomes).toEqual({ created: 2 });
    expect(redriven.failed.trim().split('\r\n')).toHaveLength(1);
    expect(sim.state.assignments.get('12125554200')?.id).toBe(4501);
  });
});
