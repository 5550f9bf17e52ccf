import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoTenant } from '../../local/ringcx-simulator/fixtures';
import type { RingCxSimulator } from '../../local/ringcx-simulator/server';
import { SqsPoller } from '../../local/wiring/sqsPoller';
import { readRun } from '../helpers/ingest';
import { startPipeline, type Pipeline } from '../helpers/pipeline';
import { seededRandom } from '../helpers/random';
import { DEMO_JWT_CREDENTIALS } from '../helpers/ringcx';

/**
 * The pipeline on a bad day: RingCX answers 15% 5xx, 5% hangs, connection resets, 429 bursts and a
 * two-second outage, its tokens expire every 2 (scaled) minutes; invocations are killed mid-batch,
 * 10% of messages are delivered twice and the S3 notification arrives twice. The invariants are
 * checked against the simulator's final state and its request log. CHAOS_ROWS sets the size
 * (`npm run test:chaos` runs 5,000; `npm test` 500).
 */
const ROWS = Number(process.env.CHAOS_ROWS ?? 500);
const LIVE = 40;
const random = seededRandom(66);
let pipeline: Pipeline;
let sim: RingCxSimulator;

const live = (i: number) => `1212956${String(1000 + i)}`;
const fresh = (i: number) => `1212957${String(i).padStart(4, '0')}`.slice(0, 11);

beforeAll(async () => {
  const seed = demoTenant();
  for (let i = 0; i < LIVE; i++) seed.pool?.push({ dnis: live(i), reservedAccountId: '99990001', dnisDescription: 'live', assignment: { type: 'gate', id: 4501 } });
  pipeline = await startPipeline({
    maxReceiveCount: 4,
    simulator: {
      seed,
      random: seededRandom(7),
      knobs: {
        // Retry-After counts whole seconds, a whole budget window at this time scale; without it the
        // client's own backoff (scaled with the window) applies, as it would to unscaled RingCX.
        rateLimit: { budget: 120, windowMs: 1_000, retryAfter: false },
        tokenLifetimeMs: 2_000,
        faults: { errorRate: 0.15, timeoutRate: 0.05, resetRate: 0.02, hangMs: 1_500 },
      },
    },
    env: { RINGCX_REQUESTS_PER_WINDOW: '120', RINGCX_WINDOW_MS: '1000', RINGCX_TIMEOUT_MS: '400', RINGCX_MAX_ATTEMPTS: '3', RINGCX_SELF_LOGIN: 'true' },
    batchSize: 25,
  });
  sim = pipeline.stack.simulator as RingCxSimulator;
  pipeline.stack.json.setSecret('dnis-sync/ringcx', JSON.stringify(DEMO_JWT_CREDENTIALS));
}, 300_000);
afterAll(() => pipeline?.stop());

it(`keeps every invariant through ${ROWS} rows of chaos`, { timeout: 1_800_000 }, async () => {
  // The file: new numbers on five queues, live numbers some rows may move and some may not, bad rows.
  const lines = ['dnis,description,target_type,target_id,on_conflict'];
  const desired = new Map<number, { dnis: string; target: number; mayMove: boolean; fresh: boolean }>();
  for (let i = 0; i < ROWS; i++) {
    const line = i + 2;
    if (i % 20 === 19) {
      lines.push(`bad-${i},broken,queue,4501,`);
    } else if (i < LIVE) {
      const mayMove = i % 2 === 0;
      lines.push(`${live(i)},moved,queue,4503,${mayMove ? 'reassign' : 'fail'}`);
      desired.set(line, { dnis: live(i), target: 4503, mayMove, fresh: false });
    } else {
      const target = 4501 + (i % 5);
      lines.push(`${fresh(i)},chaos ${i},queue,${target},`);
      desired.set(line, { dnis: fresh(i), target, mayMove: false, fresh: true });
    }
  }
  const event = await pipeline.putCsv('incoming/chaos.csv', lines.join('\n'));
  // The S3 notification, twice at once.
  const parsed = (await Promise.all([pipeline.runParser(event), pipeline.runParser(event)])).flat() as { status: string; jobId: string }[];
  const job = parsed.find((p) => p.status === 'accepted');
  expect(parsed.map((p) => p.status).sort()).toEqual(['accepted', 'duplicate']);

  // A worker that is sometimes killed mid-batch (its batch comes back after the visibility
  // timeout, while the killed run may still finish in the background), and at-least-once delivery
  // that hands 10% of messages over a second time.
  const { sqs, queues } = pipeline.stack;
  let kills = 0;
  let duplicates = 0;
  const chaoticWorker = async (e: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const copies = e.Records.filter((r) => r.attributes.ApproximateReceiveCount === '1' && random() < 0.1);
    duplicates += copies.length;
    for (const copy of copies) await sqs.send(new SendMessageCommand({ QueueUrl: queues.work.url, MessageBody: copy.body }));
    const run = pipeline.worker(e, context);
    if (random() < 0.1) {
      kills += 1;
      await new Promise((resolve) => setTimeout(resolve, random() * 300));
      run.catch(() => undefined);
      throw new Error('killed mid-batch');
    }
    return run;
  };
  const poller = new SqsPoller({ sqs, queueUrl: queues.work.url, queueArn: queues.work.arn, functionName: 'worker', handler: chaoticWorker, batchSize: 25, batchWindowMs: 100, concurrency: 2,
    // The visibility timeout, scaled like the budget: a failed batch returns after a pause, not at once.
    retryDelayMs: 1_500 });

  const started = Date.now();
  const storms = setInterval(() => {
    const elapsed = Date.now() - started;
    // 429 bursts every 2 s; one 2-second outage early on, long enough to exhaust some rows' retries.
    sim.setKnobs({ faults: { forced429: 8, errorRate: elapsed > 3_000 && elapsed < 5_000 ? 1 : 0.15 } });
  }, 2_000);
  try {
    // Drain until nothing is visible or in flight: failed batches sit out their visibility timeout.
    for (let idle = 0; idle < 3; ) {
      idle = (await poller.pollOnce()) ? 0 : (await pipeline.queueDepth(queues.work.url)) > 0 ? 0 : idle + 1;
    }
  } finally {
    clearInterval(storms);
  }
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // let killed runs finish

  const jobId = job?.jobId as string;
  const before = await readRun(pipeline, 'incoming/chaos.csv', { status: 'accepted', jobId });
  const dead = [];
  for (;;) {
    const batch = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.workDlq.url, MaxNumberOfMessages: 10 }));
    if (!batch.Messages?.length) break;
    dead.push(...batch.Messages);
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queues.workDlq.url, Entries: batch.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
  }
  const deadLines = new Set(dead.map((m) => JSON.parse(m.Body ?? '{}').line as number));
  // DLQ'd rows appear as failed, unless another delivery of the same row (a duplicate, or a run
  // killed on its last receive that still finished) recorded its real outcome first.
  let completedElsewhere = 0;
  for (const line of deadLines) {
    const outcome = before.rows.get(line)?.outcome;
    expect(outcome, `line ${line} in the DLQ has an outcome`).toBeDefined();
    if (outcome !== 'failed') {
      expect(['created', 'assigned', 'reassigned', 'updated', 'unchanged', 'conflict']).toContain(outcome);
      completedElsewhere += 1;
    }
  }

  // RingCX recovers; the DLQ is redriven; the redriven rows complete.
  sim.setKnobs({ faults: { errorRate: 0, timeoutRate: 0, resetRate: 0, forced429: 0 } });
  for (let i = 0; i < dead.length; i += 10) {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queues.work.url, Entries: dead.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: m.Body ?? '' })) }));
  }
  while (await pipeline.workPoller.pollOnce());
  const after = await readRun(pipeline, 'incoming/chaos.csv', { status: 'accepted', jobId });

  // Every row has exactly one outcome: outcomes + rejected = rows in the file.
  const reported = after.results.slice(1).map((r) => Number(r[0]));
  expect(new Set(reported).size).toBe(reported.length);
  expect(reported.length).toBe(ROWS);
  expect(after.summary.rows).toEqual({ total: ROWS, accepted: desired.size, rejected: ROWS - desired.size });
  for (const line of deadLines) expect(after.rows.get(line)?.outcome, `line ${line} after redrive`).not.toBe('failed');

  // The final RingCX state is the desired state for every row that succeeded.
  const succeeded = ['created', 'assigned', 'reassigned', 'updated', 'unchanged'];
  for (const [line, want] of desired) {
    const outcome = after.rows.get(line)?.outcome;
    if (!outcome || !succeeded.includes(outcome)) continue;
    expect(sim.state.assignments.get(want.dnis), `line ${line} ${want.dnis}`).toMatchObject({ type: 'gate', id: want.target });
  }
  // Zero duplicate creates.
  const creates = new Map<string, number>();
  for (const e of sim.state.events.filter((e) => e.kind === 'create')) creates.set(e.dnis, (creates.get(e.dnis) ?? 0) + 1);
  expect([...creates.values()].filter((n) => n > 1)).toEqual([]);
  // Zero moves of a number its row did not allow to move.
  for (const want of desired.values()) {
    if (want.fresh || want.mayMove) continue;
    expect(sim.state.events.filter((e) => e.dnis === want.dnis && (e.kind === 'move' || e.kind === 'unassign')), want.dnis).toEqual([]);
    expect(sim.state.assignments.get(want.dnis)).toMatchObject({ id: 4501 });
  }

  const statuses = new Map<string, number>();
  for (const e of sim.log) statuses.set(String(e.status), (statuses.get(String(e.status)) ?? 0) + 1);
  console.log(
    `chaos tally: ${ROWS} rows; outcomes ${JSON.stringify(after.summary.outcomes)}; RingCX answers ${JSON.stringify(Object.fromEntries(statuses))}; ` +
      `${kills} invocations killed, ${duplicates} messages delivered twice, 1 duplicate S3 notification, ${dead.length} messages DLQ'd and redriven ` +
      `(${completedElsewhere} of their rows already completed by another delivery); ` +
      `${sim.auth.stats.refreshes} token refreshes, ${sim.auth.stats.exchanges} exchanges`,
  );
});
