import type { SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { outcomeTenant, readRun } from '../../helpers/ingest';
import { startIngestPipeline } from '../../helpers/ingest';
import type { Pipeline } from '../../helpers/pipeline';

/*
 * Rows the engine does not start before the deadline are handed on as fresh messages at once,
 * not left as batch item failures: those would wait out a visibility timeout and spend a receive
 * on work never tried. On the real chain (fauxqs, DynamoDB Local, the simulator), with a worker
 * paced at 6 RingCX requests a second, a 1 s request timeout and invocations of a few seconds.
 */
const MAX_DEFERRALS = 4;
const MAX_RECEIVES = 3;
const live = (i: number) => `1212556${String(i).padStart(4, '0')}`;
const MOVES = 12;

let pipeline: Pipeline;

beforeAll(async () => {
  const seed = outcomeTenant();
  for (let i = 0; i < MOVES + 2; i++) seed.pool?.push({ dnis: live(i), reservedAccountId: '99990001', dnisDescription: 'live', assignment: { type: 'gate', id: 4501 } });
  pipeline = await startIngestPipeline({
    simulator: { seed },
    maxReceiveCount: MAX_RECEIVES,
    visibilityTimeoutSeconds: 1,
    // A move starts only with time for its assignment at worst (the request timeout) after its
    // removal, so the request timeout is scaled with the few-second invocations.
    env: { RINGCX_REQUESTS_PER_WINDOW: '6', RINGCX_WINDOW_MS: '1000', RINGCX_TIMEOUT_MS: '1000', MAX_DEFERRALS: String(MAX_DEFERRALS) },
  });
}, 120_000);
afterAll(() => pipeline?.stop());

/** Worker deliveries whose invocations last `timeoutMs`, recording every record they hand over. */
function shortDeliveries(timeoutMs: number) {
  const deliveries: { receiveCount: number; deferrals: number; line: number }[] = [];
  const failures: string[] = [];
  const drain = async () => {
    const stopRecording = pipeline.onInvocation(({ messages, outcome }) => {
      for (const message of messages) {
        const body = JSON.parse(message.Body ?? '{}') as { line: number; deferrals?: number };
        deliveries.push({ receiveCount: Number(message.Attributes?.ApproximateReceiveCount), deferrals: body.deferrals ?? 0, line: body.line });
      }
      if (outcome.status !== 'ok') failures.push(...messages.map((m) => `${m.MessageId}: ${outcome.message}`));
      else failures.push(...(outcome.value as SQSBatchResponse).batchItemFailures.map((f) => f.itemIdentifier));
    });
    try {
      await pipeline.drain({ timeoutMs, maxBatches: 200 });
    } finally {
      stopRecording();
    }
  };
  return { deliveries, failures, drain };
}

it('hands rows it cannot start before the deadline on as fresh messages: every move completes as reassigned without a single redelivery', { timeout: 180_000 }, async () => {
  const lines = ['dnis,description,target_type,target_id,on_conflict', ...Array.from({ length: MOVES }, (_, i) => `${live(i)},moved,queue,4503,reassign`)];
  const event = await pipeline.putCsv('incoming/deferred-moves.csv', lines.join('\n'));
  const [parse] = (await pipeline.runParser(event)) as { status: string; jobId: string }[];
  const worker = shortDeliveries(4_000);
  await worker.drain();

  const run = await readRun(pipeline, 'incoming/deferred-moves.csv', parse as { status: string; jobId: string });
  expect(run.summary.outcomes).toEqual({ reassigned: MOVES });
  expect(Array.from({ length: MOVES }, (_, i) => pipeline.stack.simulator?.state.assignments.get(live(i))?.id)).toEqual(Array(MOVES).fill(4503));
  // One invocation could not fit the batch, so rows were handed on...
  expect(Math.max(...worker.deliveries.map((d) => d.deferrals))).toBeGreaterThan(0);
  expect(Math.max(...worker.deliveries.map((d) => d.deferrals))).toBeLessThanOrEqual(MAX_DEFERRALS);
  // ...as fresh messages: no batch item failure, no receive spent, each row's outcome recorded once.
  expect(worker.failures).toEqual([]);
  expect(worker.deliveries.filter((d) => d.receiveCount > 1)).toEqual([]);
  expect(run.results.slice(1).map((r) => Number(r[0])).sort((a, b) => a - b)).toEqual(Array.from({ length: MOVES }, (_, i) => i + 2));
});

it('a row that never fits is handed on a bounded number of times, then ends as failed with the reason, its number untouched', { timeout: 180_000 }, async () => {
  const dnis = live(MOVES);
  const event = await pipeline.putCsv('incoming/never-fits.csv', ['dnis,description,target_type,target_id,on_conflict', `${dnis},moved,queue,4503,reassign`].join('\n'));
  const [parse] = (await pipeline.runParser(event)) as { status: string; jobId: string }[];
  // Less time than the engine's safety margin: not even the first read is started.
  const worker = shortDeliveries(300);
  await worker.drain();

  const run = await readRun(pipeline, 'incoming/never-fits.csv', parse as { status: string; jobId: string });
  expect(run.summary.outcomes).toEqual({ failed: 1 });
  expect(run.rows.get(2)?.detail).toMatch(new RegExp(`^gave up after ${MAX_RECEIVES} attempts: deadline: .*\\(not started in ${MAX_DEFERRALS + 1} invocations\\)$`));
  expect(worker.deliveries.map((d) => d.deferrals)).toEqual([...Array.from({ length: MAX_DEFERRALS + 1 }, (_, i) => i), MAX_DEFERRALS, MAX_DEFERRALS]);
  expect(pipeline.stack.simulator?.state.assignments.get(dnis)).toMatchObject({ type: 'gate', id: 4501 });
  expect(pipeline.stack.simulator?.state.events.filter((e) => e.dnis === dnis)).toEqual([]);
});
