import { DeleteMessageBatchCommand, PurgeQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import type { SweepResult } from '../../../shared/sweeper/sweeper';
import type { JobStore } from '../../../shared/store/jobStore';
import { readRun, runFile, startIngestPipeline } from '../../helpers/ingest';
import type { Pipeline } from '../../helpers/pipeline';

/*
 * The completion guarantee on the real chain: every accepted row gets exactly one outcome and
 * every job completes (or says it is stalled) within visibility timeout × maxReceiveCount + one
 * sweep interval, whatever crashes, times out or is refused. Scaled down: visibility 1 s, three
 * receives, a 1 s sweep interval, a 1 s parse lease.
 */
const VISIBILITY_SECONDS = 1;
const MAX_RECEIVES = 3;
const SWEEP_SECONDS = 1;
const BOUND_MS = (VISIBILITY_SECONDS * MAX_RECEIVES + SWEEP_SECONDS) * 1000;

let pipeline: Pipeline;
let sim: RingCxSimulator;
let store: JobStore;
let sweepNow: () => Promise<SweepResult>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const events = (type: string, jobId: string) => pipeline.stack.json.events.filter((e) => e.detailType === type && (e.detail as { jobId?: string }).jobId === jobId);

beforeAll(async () => {
  pipeline = await startIngestPipeline({
    maxReceiveCount: MAX_RECEIVES,
    visibilityTimeoutSeconds: VISIBILITY_SECONDS,
    env: {
      RINGCX_MAX_ATTEMPTS: '1',
      // Long enough that a hung RingCX call outlives the invocation that made it (the crash test).
      RINGCX_TIMEOUT_MS: '600000',
      WORK_VISIBILITY_TIMEOUT_SECONDS: String(VISIBILITY_SECONDS),
      SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS),
      PARSE_LEASE_SECONDS: '1',
    },
    batchSize: 10,
  });
  sim = pipeline.stack.simulator as RingCxSimulator;
  const sweeper = (await import('../../../functions/sweeper/app')).handler;
  sweepNow = () => sweeper({}, lambdaContext('sweeper'));
  const { JobStore } = await import('../../../shared/store/jobStore');
  const { createAwsClients } = await import('../../../shared/aws/clients');
  const { loadConfig } = await import('../../../shared/config');
  const config = loadConfig(pipeline.stack.env);
  store = new JobStore(createAwsClients(config).dynamo, config.TABLE_NAME, { retentionDays: 1 });
});
afterAll(() => pipeline?.stop());
beforeEach(async () => {
  sim.reset();
  sim.setKnobs({ faults: { errorRate: 0, timeoutRate: 0, resetRate: 0 } });
  pipeline.stack.json.refusals.clear();
  for (const queue of [pipeline.stack.queues.work, pipeline.stack.queues.workDlq, pipeline.stack.queues.bulk, pipeline.stack.queues.bulkDlq]) {
    await pipeline.stack.sqs.send(new PurgeQueueCommand({ QueueUrl: queue.url }));
  }
});

/** Plain creates with a queue target: cheap rows, so their messages travel on the bulk queue (and its DLQ). */
const file = (prefix: number, count: number) =>
  ['dnis,description,target_type,target_id', ...Array.from({ length: count }, (_, i) => `1212555${prefix + i},Line ${i},queue,${4501 + (i % 3)}`)].join('\n');

/** What an operator does with `start-message-move-task`: every DLQ message back on its queue. */
async function redrive(from: string, to: string): Promise<number> {
  const { sqs } = pipeline.stack;
  let moved = 0;
  for (;;) {
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: from, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const messages = dead.Messages ?? [];
    if (messages.length === 0) return moved;
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: to, Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' })) }));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: from, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    moved += messages.length;
  }
}

async function parse(key: string, csv: string) {
  const [parsed] = (await pipeline.runParser(await pipeline.putCsv(key, csv))) as { jobId: string; status: string }[];
  return parsed as { jobId: string; status: string };
}

describe('completion guarantee', () => {
  it('settles a row whose last delivery died (invocation killed mid-call), completes the job within the bound, and a redrive still gets the real outcome', async () => {
    sim.setKnobs({ faults: { errorRate: 1 } });
    const parsed = await parse('incoming/crash.csv', file(5000, 1));
    expect(await pipeline.pollOnce()).toBeDefined();
    expect(await pipeline.pollOnce()).toBeDefined();

    // The last allowed receive: RingCX hangs and the invocation is killed, as a Lambda timeout
    // kills it. Nothing in the worker gets to record an outcome.
    sim.setKnobs({ faults: { errorRate: 0, timeoutRate: 1, hangMs: 600_000 } });
    const killed = await pipeline.pollOnce({ killAfterMs: 1_500 });
    expect(killed?.outcome).toEqual({ status: 'timeout', message: 'Task timed out after 1.50 seconds' });
    expect(killed?.deleted).toEqual([]);
    sim.setKnobs({ faults: { timeoutRate: 0 } });
    const killedAt = Date.now();
    await pipeline.drain();
    expect(await pipeline.queueDepth(pipeline.stack.queues.bulkDlq.url)).toBe(1);
    expect((await store.getJob(parsed.jobId))?.status).toBe('running');

    await sleep(Math.max(0, killedAt + VISIBILITY_SECONDS * 1000 + 100 - Date.now()));
    const swept = await sweepNow();
    expect(swept.settled).toBe(1);
    expect(swept.completed).toContain(parsed.jobId);
    const run = await readRun(pipeline, 'incoming/crash.csv', parsed);
    expect(run.summary).toMatchObject({ status: 'completed', outcomes: { failed: 1 } });
    expect(run.rows.get(2)?.detail).toMatch(/^gave up after 3 attempts: the last attempt ended without an outcome/);
    expect(events('DNIS Import Completed', parsed.jobId)).toHaveLength(1);

    // The README's runbook: RingCX is fine again, the DLQ is redriven, the real outcome replaces the failure.
    expect(await redrive(pipeline.stack.queues.bulkDlq.url, pipeline.stack.queues.bulk.url)).toBe(1);
    await pipeline.drain();
    const redriven = await readRun(pipeline, 'incoming/crash.csv', parsed);
    expect(redriven.summary.outcomes).toEqual({ created: 1 });
    expect(sim.state.assignments.get('12125555000')?.id).toBe(4501);
  });

  it('turns a credentials outage into per-row outcomes: the job completes, and a redrive applies the rows once credentials are back', async () => {
    const secretId = 'dnis-sync/ringcx';
    const working = pipeline.stack.json.currentSecretValue(secretId) as string;
    // A token that expired long ago, and no credentials to log in with: RingCxAuthError, not a RingCX answer.
    pipeline.stack.json.setSecret(secretId, JSON.stringify({ accessToken: 'revoked-token', expiresAt: '2001-01-01T00:00:00Z' }));
    await sleep(1_100); // the worker's token cache (capped at the scaled budget window)
    try {
      const run = await runFile(pipeline, 'incoming/outage.csv', file(5100, 3));
      expect(run.summary).toMatchObject({ status: 'completed', outcomes: { failed: 3 } });
      expect(run.rows.get(2)?.detail).toMatch(/^gave up after 3 attempts: RingCxAuthError: /);
      expect(await pipeline.queueDepth(pipeline.stack.queues.bulkDlq.url)).toBe(3);
      expect(sim.apiCalls()).toEqual([]);

      pipeline.stack.json.setSecret(secretId, working);
      await sleep(1_100);
      expect(await redrive(pipeline.stack.queues.bulkDlq.url, pipeline.stack.queues.bulk.url)).toBe(3);
      await pipeline.drain();
      const redriven = await readRun(pipeline, 'incoming/outage.csv', run.parse);
      expect(redriven.summary.outcomes).toEqual({ created: 3 });
      expect(redriven.failed.trim().split('\r\n')).toHaveLength(1);
    } finally {
      pipeline.stack.json.setSecret(secretId, working);
    }
  });

  it('completes the job when EventBridge refuses "DNIS Import Completed", and sends the event once the bus takes it', async () => {
    pipeline.stack.json.refusals.set('DNIS Import Completed', 1_000);
    const run = await runFile(pipeline, 'incoming/quiet-bus.csv', file(5200, 2));
    expect(run.summary.outcomes).toEqual({ created: 2 });
    const job = await store.getJob(run.jobId);
    expect(job).toMatchObject({ status: 'completed', pendingEvent: { detailType: 'DNIS Import Completed' } });
    expect(events('DNIS Import Completed', run.jobId)).toHaveLength(0);

    // Still refused: the sweep leaves the event owed.
    expect((await sweepNow()).eventsSent).toBe(0);
    pipeline.stack.json.refusals.clear();
    const swept = await sweepNow();
    expect(swept.eventsSent).toBeGreaterThanOrEqual(1);
    expect(events('DNIS Import Completed', run.jobId)).toHaveLength(1);
    expect((await store.getJob(run.jobId))?.pendingEvent).toBeUndefined();
    expect((await store.openItems()).jobs).not.toContain(run.jobId);
  });

  it('recovers a parse that died after sending its rows: the sweeper parses the file again and the job completes once', async () => {
    const { JobStore: LiveStore } = await import('../../../shared/store/jobStore');
    // A crash, not an exception the parser handles: it never gets to give its lease back.
    const finish = vi.spyOn(LiveStore.prototype, 'finishParsing').mockRejectedValueOnce(new Error('Task timed out after 900.00 seconds'));
    const release = vi.spyOn(LiveStore.prototype, 'releaseJob').mockResolvedValueOnce(undefined);
    const event = await pipeline.putCsv('incoming/parser-crash.csv', file(5300, 3));
    try {
      await expect(pipeline.runParser(event)).rejects.toThrow(/Task timed out/);
    } finally {
      finish.mockRestore();
      release.mockRestore();
    }
    await pipeline.drain();
    const { jobIdFor } = await import('../../../shared/parser/uploadedObject');
    const record = event.Records[0]?.s3.object;
    const jobId = jobIdFor({ bucket: pipeline.bucket, key: 'incoming/parser-crash.csv', versionId: record?.versionId, etag: record?.eTag });
    expect(await store.getJob(jobId)).toMatchObject({ status: 'parsing', processed: 3 });

    await sleep(1_100); // the dead parser's lease
    const swept = await sweepNow();
    expect(swept.reparsed).toContain(jobId);
    await pipeline.drain();
    const run = await readRun(pipeline, 'incoming/parser-crash.csv', { jobId, status: 'accepted' });
    expect(run.summary).toMatchObject({ status: 'completed', rows: { total: 3, accepted: 3, rejected: 0 }, outcomes: { created: 3 } });
    expect(sim.apiCalls('createDnisPool').filter((c) => c.status === 200)).toHaveLength(1);
    expect(sim.state.events.filter((e) => e.kind === 'duplicate-create')).toHaveLength(0);
    expect(events('DNIS Import Completed', jobId)).toHaveLength(1);
  });

  it('reports a job that cannot finish: status stalled, "DNIS Import Stalled", and its age for the alarm', async () => {
    const parsed = await parse('incoming/lost.csv', file(5400, 2));
    await sleep(BOUND_MS + 200);
    // No progress for the bound, but its messages are still waiting on the queue: slow, not stalled.
    expect((await sweepNow()).stalled).not.toContain(parsed.jobId);
    expect((await store.getJob(parsed.jobId))?.status).toBe('running');
    // Its messages vanish (purged by hand): no delivery will ever bring an outcome.
    await pipeline.stack.sqs.send(new PurgeQueueCommand({ QueueUrl: pipeline.stack.queues.bulk.url }));
    const swept = await sweepNow();
    expect(swept.stalled).toContain(parsed.jobId);
    expect(swept.oldestOpenJobAgeSeconds).toBeGreaterThanOrEqual(Math.floor(BOUND_MS / 1000));
    expect(await store.getJob(parsed.jobId)).toMatchObject({ status: 'stalled' });
    expect(events('DNIS Import Stalled', parsed.jobId).map((e) => e.detail)).toEqual([
      expect.objectContaining({ jobId: parsed.jobId, accepted: 2, processed: 0, outstanding: 2 }),
    ]);
    // Announced once, not on every sweep.
    await sweepNow();
    expect(events('DNIS Import Stalled', parsed.jobId)).toHaveLength(1);
  });
});
