import { afterAll, beforeAll, expect, it } from 'vitest';
import { STAGES } from '../../../infra/config';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { readRun, SCALED_BUDGET } from '../../helpers/ingest';
import { type Pipeline, startPipeline } from '../../helpers/pipeline';

/**
 * What a migration costs in RingCX calls: 10,000 new numbers over 7 targets, parsed, routed to
 * the bulk queue and delivered in the deployed bulk batch size, counted from the simulator's
 * request log. The goal is at most 0.03 calls per new number (it was 0.07-0.10 with batches of
 * 100 and arrays of 100). Prints the calls by route; asserts counts, never times.
 */

const NUMBERS = 10_000;
const TARGETS = [
  { type: 'queue', id: 4501, account: '99990001' },
  { type: 'queue', id: 4502, account: '99990001' },
  { type: 'queue', id: 4503, account: '99990001' },
  { type: 'visual_ivr', id: 701, account: '99990001' },
  { type: 'visual_ivr', id: 702, account: '99990001' },
  { type: 'queue', id: 4504, account: '99990002' },
  { type: 'queue', id: 4505, account: '99990002' },
] as const;

let pipeline: Pipeline;
let sim: RingCxSimulator;

beforeAll(async () => {
  pipeline = await startPipeline({
    // The stage's visibility timeout: a 4,000-row batch takes longer than the 2 s the other
    // in-process tests use, and its messages must not reappear while it runs.
    visibilityTimeoutSeconds: STAGES.prod.worker.timeoutSeconds * 6,
    // The scaled budget keeps the run short; the count of calls does not depend on the pace.
    env: SCALED_BUDGET.env,
    simulator: { knobs: SCALED_BUDGET.knobs },
    // The stage's bulk batch and window (in-process delivery otherwise closes a batch after 200 ms).
    batchSize: STAGES.prod.worker.batchSize,
    bulkBatchSize: STAGES.prod.bulk.batchSize,
    bulkBatchWindowMs: STAGES.prod.bulk.batchWindowSeconds * 1000,
    // A prod worker invocation's deadline, which the engine sizes each batch against.
    workerTimeoutMs: STAGES.prod.worker.timeoutSeconds * 1000,
  });
  sim = pipeline.stack.simulator as RingCxSimulator;
}, 120_000);
afterAll(() => pipeline?.stop());

it('imports 10,000 new numbers over 7 targets in at most 0.03 RingCX calls per number', { timeout: 900_000 }, async () => {
  const lines = ['dnis,description,target_type,target_id,account_id'];
  for (let i = 0; i < NUMBERS; i++) {
    const target = TARGETS[i % TARGETS.length] as (typeof TARGETS)[number];
    lines.push(`1646${String(2_000_000 + i).padStart(7, '0')},Migrated line ${i},${target.type},${target.id},${target.account}`);
  }
  const key = 'incoming/migration-10000.csv';
  const [parse] = (await pipeline.runParser(await pipeline.putCsv(key, `${lines.join('\n')}\n`))) as { jobId: string; status: string; accepted: number }[];
  expect(parse).toMatchObject({ status: 'accepted', accepted: NUMBERS });
  // Every row is a plain create and assignment: all of them wait on the bulk queue.
  expect(await pipeline.queueDepth(pipeline.stack.queues.bulk.url)).toBe(NUMBERS);
  expect(await pipeline.queueDepth(pipeline.stack.queues.work.url)).toBe(0);

  const batches: number[] = [];
  const durations: number[] = [];
  const stopListening = pipeline.onInvocation((invocation) => {
    batches.push(invocation.messages.length);
    durations.push(invocation.endedAt - invocation.startedAt);
  });
  await pipeline.drain();
  stopListening();

  const run = await readRun(pipeline, key, parse as { jobId: string; status: string });
  expect(run.summary).toMatchObject({ status: 'completed', outcomes: { created: NUMBERS } });

  const calls = sim.apiCalls();
  const byRoute = new Map<string, number>();
  for (const call of calls) byRoute.set(`${call.route} ${call.status}`, (byRoute.get(`${call.route} ${call.status}`) ?? 0) + 1);
  const perNumber = calls.length / NUMBERS;
  console.log(
    [
      `${NUMBERS} new numbers over ${TARGETS.length} targets: ${calls.length} RingCX calls, ${perNumber.toFixed(4)} per new number`,
      `worker batches: ${batches.join(', ')} rows, taking ${durations.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} in this process`,
      ...[...byRoute].sort().map(([route, count]) => `  ${route}: ${count}`),
    ].join('\n'),
  );
  expect(perNumber).toBeLessThanOrEqual(0.03);
  expect(calls.every((call) => call.status === 200)).toBe(true);
  // Each message delivered once: the batches are the file cut at the bulk batch size.
  expect(batches.reduce((sum, size) => sum + size, 0)).toBe(NUMBERS);
  expect(sim.state.assignments.size).toBeGreaterThanOrEqual(NUMBERS);
});
