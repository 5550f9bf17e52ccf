import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoTenant } from '../../../local/ringcx-simulator/fixtures';
import { distribution, invocationSpans, leftUnrouted, numbersOf, unroutedIntervals } from '../../../local/twin/routingAudit';
import { readRun } from '../../helpers/ingest';
import { type Twin, startTwin } from '../../helpers/pipeline';

/**
 * The acceptance run for moves: 300 live numbers moved on the twin with prod sizing at time scale
 * 10 (worker batches of 100, 27 RingCX requests per 6 s per instance, a 12 s deadline enforced with
 * SIGKILL). Deadline kills in the middle of moves, creates and unassigns are in deadlineKills.test.ts.
 */
const TIME_SCALE = 10;
/** The goal: at most 2 s of unrouted time per moved number at ×10 (20 s unscaled). */
const MAX_GAP_MS = 20_000 / TIME_SCALE;
const MOVES = 300;
const moving = (i: number) => `1312555${String(i).padStart(4, '0')}`;
let twin: Twin;

beforeAll(async () => {
  const seed = demoTenant();
  for (let i = 0; i < MOVES; i++) seed.pool?.push({ dnis: moving(i), reservedAccountId: '99990001', dnisDescription: 'live', assignment: { type: 'gate', id: 4501 } });
  twin = await startTwin({ stage: 'prod', timeScale: TIME_SCALE, simulator: { seed } });
}, 300_000);
afterAll(() => twin?.stop());

const gapsOf = (numbers: Set<string>) => unroutedIntervals(twin.sim.state.events, numbers);
const spans = () => invocationSpans(twin.invocations, twin.stack.sizing.ringcx.requestTimeoutMs);

async function runToCompletion(key: string, csv: string) {
  const parse = await twin.upload(key, csv);
  expect(parse.status).toBe('accepted');
  await twin.waitForJob(parse.jobId, 1_500_000);
  await twin.settle();
  return readRun(twin, key, parse);
}

it(`moves ${MOVES} live numbers with on_conflict=reassign: every one reported reassigned, none unrouted longer than ${MAX_GAP_MS} ms`, { timeout: 1_800_000 }, async () => {
  const lines = ['dnis,description,target_type,target_id,on_conflict', ...Array.from({ length: MOVES }, (_, i) => `${moving(i)},moved,queue,4503,reassign`)];
  const started = Date.now();
  const run = await runToCompletion('incoming/moves-300.csv', lines.join('\n'));
  const numbers = new Set(Array.from({ length: MOVES }, (_, i) => moving(i)));
  const intervals = gapsOf(numbers);
  const gaps = distribution(intervals.map((g) => (g.to ?? Date.now()) - g.from));
  const stats = twin.runner.workerPool.stats;
  console.log(
    `${MOVES} moves at ×${TIME_SCALE}, prod sizing: ${((Date.now() - started) / 1000).toFixed(0)} s; unrouted gaps (ms) ${JSON.stringify(gaps)}; ` +
      `outcomes ${JSON.stringify(run.summary.outcomes)}; worker invocations ${stats.invocations} (${stats.timeouts} timed out, ${stats.coldStarts} cold starts)`,
  );
  const misplaced = [...numbers].filter((n) => !(twin.sim.state.assignments.get(n)?.type === 'gate' && twin.sim.state.assignments.get(n)?.id === 4503));
  expect(misplaced, 'numbers not on their new target').toEqual([]);
  const mislabelled = Array.from({ length: MOVES }, (_, i) => i + 2).filter((line) => run.rows.get(line)?.outcome !== 'reassigned');
  expect(mislabelled.map((line) => `line ${line}: ${run.rows.get(line)?.outcome}`), 'rows not reported reassigned').toEqual([]);
  expect(intervals.filter((g) => g.to === undefined)).toEqual([]);
  expect(gaps.max).toBeLessThanOrEqual(MAX_GAP_MS);
  expect(leftUnrouted(intervals, spans())).toEqual([]);
});
