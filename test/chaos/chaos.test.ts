import { DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoTenant } from '../../local/ringcx-simulator/fixtures';
import { outcomeMismatches } from '../../local/twin/outcomeAudit';
import { distribution, invocationSpans, leftUnrouted, numbersOf, openedByCrash, unroutedIntervals } from '../../local/twin/routingAudit';
import { readRun } from '../helpers/ingest';
import { startTwin, type Twin } from '../helpers/pipeline';
import { seededRandom } from '../helpers/random';
import { DEMO_JWT_CREDENTIALS } from '../helpers/ringcx';

/**
 * The pipeline on a bad day, on the local twin with prod sizing at a time scale: worker instances
 * are separate processes with 12 s deadlines (at ×10) that are enforced with SIGKILL; RingCX
 * answers 15% 5xx, 5% hangs, connection resets, 429 bursts and an outage, loses 5% of its answers
 * after the change stood, and slows down now and then so invocations outlive their deadline; the
 * credentials are revoked for a while (an auth outage); instances are also SIGKILLed at random; 10% of
 * messages are delivered twice and the S3 notification arrives twice. The invariants are checked
 * against the simulator's final state, its timestamped write log and the twin's invocation log.
 * CHAOS_ROWS sets the size (`npm run test:chaos` runs 5,000; `npm test` 500), CHAOS_TIME_SCALE
 * the scale (default 10).
 */
const ROWS = Number(process.env.CHAOS_ROWS ?? 500);
// ×10 as the issue asks for the full run; the 500 rows inside `npm test` run at ×20 to stay short.
const TIME_SCALE = Number(process.env.CHAOS_TIME_SCALE ?? (ROWS >= 5_000 ? 10 : 20));
/** The goal for a moved number: unrouted at most 2 s at ×10, i.e. 20 s unscaled. */
const MAX_GAP_MS = 20_000 / TIME_SCALE;
/**
 * What a gap may never exceed here. This run slows RingCX to 0.8 × the request timeout a call and
 * fails calls on top: a move whose assign meets a slowdown and a 5xx cannot finish within the
 * goal, whatever the worker does. It can finish within its own retries (three attempts) and the
 * re-read and assign that follow, so without waiting for a redelivery. The goal is reported;
 * the bound is asserted. The 300-move twin test, without injected faults, asserts the goal.
 */
const RINGCX_MAX_ATTEMPTS = 3;
const LIVE = Math.max(40, Math.round(ROWS / 12));
const random = seededRandom(66);
let twin: Twin;

const live = (i: number) => `1212956${String(1000 + i)}`;
const fresh = (i: number) => `1212957${String(i).padStart(4, '0')}`.slice(0, 11);
const trackingFresh = (i: number) => `1212958${String(i).padStart(4, '0')}`.slice(0, 11);

type Want = { dnis: string; label: string; target?: { type: string; id: number } | undefined };

beforeAll(async () => {
  const seed = demoTenant();
  for (let i = 0; i < LIVE; i++) seed.pool?.push({ dnis: live(i), reservedAccountId: '99990001', dnisDescription: 'live', assignment: { type: 'gate', id: 4501 } });
  twin = await startTwin({
    stage: 'prod',
    timeScale: TIME_SCALE,
    simulator: {
      seed,
      random: seededRandom(7),
      knobs: {
        // Retry-After counts whole seconds, a large part of a scaled budget window; without it the
        // client's own backoff (scaled with the window) applies.
        rateLimit: { retryAfter: false },
        faults: { errorRate: 0.15, timeoutRate: 0.05, resetRate: 0.02, hangMs: 1_500, loseAnswerRate: 0.05 },
      },
    },
    env: { RINGCX_MAX_ATTEMPTS: String(RINGCX_MAX_ATTEMPTS) },
    // Tokens come from the refresher on its (scaled) schedule, as deployed; they expire every 30 s at ×10.
    secretJson: JSON.stringify(DEMO_JWT_CREDENTIALS),
    // Environments are recycled, so cold starts keep happening.
    maxInvocationsPerInstance: 6,
    retireRate: 0.05,
    random: seededRandom(11),
  });
}, 300_000);
afterAll(() => twin?.stop());

it(`keeps every invariant through ${ROWS} rows of chaos on the twin (prod sizing, ×${TIME_SCALE})`, { timeout: 3_600_000 }, async () => {
  // The file: new numbers on five queues, new tracking numbers, live numbers some rows may move,
  // some may not and some retire, and bad rows.
  const lines = ['dnis,description,target_type,target_id,on_conflict,account_id,action'];
  const wants = new Map<number, Want>();
  const unassignRows = new Set<string>();
  for (let i = 0; i < ROWS; i++) {
    const line = i + 2;
    if (i % 20 === 19) {
      lines.push(`bad-${i},broken,queue,4501,,,`);
    } else if (i < LIVE) {
      const kind = i % 3;
      if (kind === 0) {
        lines.push(`${live(i)},moved,queue,4503,reassign,,`);
        wants.set(line, { dnis: live(i), label: 'reassigned', target: { type: 'gate', id: 4503 } });
      } else if (kind === 1) {
        lines.push(`${live(i)},moved,queue,4503,fail,,`);
        wants.set(line, { dnis: live(i), label: 'conflict', target: { type: 'gate', id: 4501 } });
      } else {
        lines.push(`${live(i)},,queue,4501,,,unassign`);
        wants.set(line, { dnis: live(i), label: 'unassigned', target: undefined });
        unassignRows.add(live(i));
      }
    } else if (i % 10 === 3) {
      lines.push(`${trackingFresh(i)},campaign ${i},tracking_group,${901 + (i % 2)},,99990002,`);
      wants.set(line, { dnis: trackingFresh(i), label: 'created', target: { type: 'tracNumber', id: -1 } });
    } else {
      const target = 4501 + (i % 5);
      lines.push(`${fresh(i)},chaos ${i},queue,${target},,,`);
      wants.set(line, { dnis: fresh(i), label: 'created', target: { type: 'gate', id: target } });
    }
  }
  const liveNumbers = new Set(Array.from({ length: LIVE }, (_, i) => live(i)));

  // At-least-once delivery: 10% of first deliveries are handed over a second time.
  const { sqs, queues } = twin.stack;
  let duplicates = 0;
  twin.runner.onInvocation((invocation) => {
    for (const message of invocation.messages) {
      if (message.Attributes?.ApproximateReceiveCount === '1' && random() < 0.1) {
        duplicates += 1;
        void sqs.send(new SendMessageCommand({ QueueUrl: queues.work.url, MessageBody: message.Body ?? '' }));
      }
    }
  });

  // The S3 notification, twice at once.
  // Workers start on the first rows while the parser still sends the rest: this job's writes begin here.
  const uploadedAt = Date.now();
  const parsed = await twin.uploadNotifiedTwice('incoming/chaos.csv', lines.join('\n'));
  expect(parsed.map((p) => p.status).sort()).toEqual(['accepted', 'duplicate']);
  const jobId = parsed.find((p) => p.status === 'accepted')?.jobId as string;

  const sim = twin.sim;
  const windowMs = twin.stack.sizing.ringcx.windowMs;
  const started = Date.now();
  let randomKills = 0;
  let slowdowns = 0;
  // The auth outage: from one budget window in to two, the secret holds a token RingCX refuses and
  // nothing to log in with, so workers meet RingCxAuthError (not a RingCX answer) until it is back.
  const secretId = twin.stack.env.RINGCX_SECRET_ID as string;
  const credentials = { working: '', outage: 'pending' as 'pending' | 'on' | 'over' };
  const storms = setInterval(() => {
    const elapsed = Date.now() - started;
    if (credentials.outage === 'pending' && elapsed > windowMs) {
      credentials.working = twin.stack.json.currentSecretValue(secretId) as string;
      twin.stack.json.setSecret(secretId, JSON.stringify({ accessToken: 'revoked-token', expiresAt: '2001-01-01T00:00:00Z' }));
      credentials.outage = 'on';
    } else if (credentials.outage === 'on' && elapsed > windowMs * 2) {
      twin.stack.json.setSecret(secretId, credentials.working);
      credentials.outage = 'over';
    }
    // 429 bursts; one outage early on (a third of a budget window); now and then RingCX slows to
    // just under the client's request timeout for a while, so invocations in flight outlive their
    // deadline and are killed.
    const slow = random() < 0.12;
    if (slow) slowdowns += 1;
    sim.setKnobs({
      latencyMs: slow ? Math.round(twin.stack.sizing.ringcx.requestTimeoutMs * 0.8) : 0,
      faults: { forced429: 1, errorRate: elapsed > windowMs / 2 && elapsed < windowMs * 0.85 ? 1 : 0.15 },
    });
    // A crash: an instance in the middle of a batch is SIGKILLed; the first busy one surely, so
    // every run has one however the timing falls.
    if ((randomKills === 0 || random() < 0.15) && twin.runner.workerPool.killBusy(random)) randomKills += 1;
  }, windowMs / 2);
  try {
    // Until nothing is visible or in flight: failed batches sit out their visibility timeout.
    await waitForQuiet(twin);
  } finally {
    clearInterval(storms);
    if (credentials.outage === 'on') twin.stack.json.setSecret(secretId, credentials.working);
  }
  expect(credentials.outage, 'the run went through an auth outage').toBe('over');
  sim.setKnobs({ latencyMs: 0, faults: { errorRate: 0, timeoutRate: 0, resetRate: 0, forced429: 0, loseAnswerRate: 0 } });

  // RingCX recovers; the DLQs are redriven (each to its own queue); the redriven rows complete.
  const dead = [];
  for (const [dlq, queue] of [[queues.workDlq, queues.work], [queues.bulkDlq, queues.bulk]] as const) {
    const redriven = [];
    for (;;) {
      const batch = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq.url, MaxNumberOfMessages: 10 }));
      if (!batch.Messages?.length) break;
      redriven.push(...batch.Messages);
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: dlq.url, Entries: batch.Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    }
    for (let i = 0; i < redriven.length; i += 10) {
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: redriven.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: m.Body ?? '' })) }));
    }
    dead.push(...redriven);
  }
  await waitForQuiet(twin);
  await twin.settle();

  // 1. No number left unassigned at the end of any invocation unless its row asked for it, and the
  //    unrouted gap of every moved number, from the simulator's timestamped writes.
  //    A random SIGKILL (a crash, not a deadline) can fall while a move's remove is on the wire:
  //    requests already sent may land (the span allowance),
  //    and no remove-then-assign worker can send the assign of a move whose process is gone. Such
  //    a number waits for its redelivery; it is measured and bounded (one per crashed batch, as
  //    moves run one at a time), never excused after a deadline kill or a normal return.
  const spans = invocationSpans(twin.invocations, twin.stack.sizing.ringcx.requestTimeoutMs);
  const intervals = unroutedIntervals(sim.state.events, liveNumbers);
  const left = leftUnrouted(intervals, spans, unassignRows);
  const crashedDuring = (s: (typeof left)[number]) => openedByCrash(s, spans);
  const byCrash = left.filter((s) => crashedDuring(s) !== undefined);
  const stranded = left.filter((s) => crashedDuring(s) === undefined);
  const moved = new Set([...wants.values()].filter((w) => w.label === 'reassigned').map((w) => w.dnis));
  const gapOf = (g: (typeof intervals)[number]) => (g.to ?? Date.now()) - g.from;
  const gaps = distribution(intervals.filter((g) => moved.has(g.dnis) && !byCrash.includes(g)).map(gapOf));
  const stats = twin.runner.workerPool.stats;
  // Still working at the deadline: the worker answered with Middy's timeout error instead of its batch item failures.
  const cutOffs = twin.invocations.filter((i) => i.outcome.status === 'error' && i.outcome.message.startsWith('TimeoutError'));
  const cutOff = cutOffs.length;
  const statuses = new Map<string, number>();
  for (const e of sim.log) statuses.set(String(e.status), (statuses.get(String(e.status)) ?? 0) + 1);
  console.log(
    `chaos tally (${ROWS} rows, prod sizing, ×${TIME_SCALE}, ${((Date.now() - started) / 1000).toFixed(0)} s): RingCX answers ${JSON.stringify(Object.fromEntries(statuses))}; ` +
      `worker invocations ${stats.invocations} (${stats.timeouts} killed at their deadline, ${cutOff} cut off by Middy's early timeout, ${stats.crashes} crashed, ${randomKills} of them SIGKILLed at random, ${stats.coldStarts} cold starts); ` +
      `${slowdowns} RingCX slowdowns; ${sim.log.filter((e) => e.answerLost).length} answers lost after the change stood; an auth outage of one budget window; ` +
      `${duplicates} messages delivered twice, 1 duplicate S3 notification, ${dead.length} messages DLQ'd and redriven; ` +
      `unrouted gaps of moved numbers (ms): ${JSON.stringify(gaps)}; numbers left unrouted past an invocation: ${stranded.length}; ` +
      `stranded by a crash until their redelivery: ${byCrash.length} (gaps ms ${JSON.stringify(byCrash.map(gapOf))})`,
  );
  // What the twin saw around a number, so a failure explains itself.
  const history = (dnis: string) => {
    const around = twin.invocations
      .filter((i) => numbersOf(i).includes(dnis))
      .map((i) => `${new Date(i.startedAt).toISOString()}..${new Date(i.endedAt).toISOString()} ${i.outcome.status}${i.outcome.status === 'ok' ? '' : ` (${i.outcome.message})`}`);
    const writes = sim.state.events.filter((e) => e.dnis === dnis).map((e) => `${new Date(e.at).toISOString()} ${e.kind}`);
    return `invocations carrying it: ${around.join('; ')}; its writes: ${writes.join('; ')}`;
  };
  for (const i of cutOffs) {
    console.log(`cut off by Middy: ${i.queueUrl.split('/').pop()}, ${new Date(i.startedAt).toISOString()}..${new Date(i.endedAt).toISOString()}, ${numbersOf(i).length} numbers`);
  }
  for (const s of stranded) console.log(`left unrouted: ${s.dnis}; ${history(s.dnis)}`);
  for (const s of byCrash) console.log(`stranded by a crash: ${s.dnis}; ${history(s.dnis)}`);
  // A SIGKILL can land as the batch answers, so it is counted as it is sent as well as by its effect.
  expect(stats.timeouts + stats.crashes + randomKills, 'the run had deadline kills or crashes').toBeGreaterThan(0);
  expect.soft(stranded.map((s) => `${s.dnis} unrouted from ${new Date(s.from).toISOString()} ${s.to ? `for ${s.to - s.from} ms` : 'to the end'}`)).toEqual([]);
  // The engine's guarantee: a number an invocation unrouted is routed again before that invocation
  // ends, its assignment re-sent for as long as one more attempt fits (shared/worker/sync/moves.ts).
  // So no gap outside a crash outlasts a worker invocation; the 2 s goal is measured and printed.
  // (The bound was once the request timeout × (attempts + 2), from an engine that gave up on the
  // assignment after one round of retries and left the number for a redelivery, 53 s and more.)
  const gapBound = Math.max(MAX_GAP_MS, twin.stack.sizing.timeoutMs.worker);
  console.log(`unrouted gap goal ${MAX_GAP_MS} ms: ${gaps.max <= MAX_GAP_MS ? 'met' : `missed, largest ${gaps.max} ms`} (${gaps.count} moves); bound ${gapBound} ms`);
  expect.soft(gaps.max, 'largest unrouted gap of a moved number (ms)').toBeLessThanOrEqual(gapBound);
  // At most one number per crashed batch, and every one back in place by the end (checked below).
  const perCrash = new Map<unknown, number>();
  for (const s of byCrash) perCrash.set(crashedDuring(s), (perCrash.get(crashedDuring(s)) ?? 0) + 1);
  expect.soft(Math.max(0, ...perCrash.values()), 'numbers stranded by one crashed batch').toBeLessThanOrEqual(1);

  // Every row has its outcome once the queue is quiet: the job completes and its reports exist.
  await twin.waitForJob(jobId, 2 * twin.stack.sizing.queues.work.visibilityTimeoutMs);
  const run = await readRun(twin, 'incoming/chaos.csv', { status: 'accepted', jobId });
  console.log(`chaos outcomes: ${JSON.stringify(run.summary.outcomes)}`);

  // 2. Every row exactly one outcome, and the right one.
  const reported = run.results.slice(1).map((r) => Number(r[0]));
  expect(new Set(reported).size).toBe(reported.length);
  expect(reported.length).toBe(ROWS);
  expect(run.summary.rows).toEqual({ total: ROWS, accepted: wants.size, rejected: ROWS - wants.size });
  const wrong = [...wants].filter(([line, want]) => run.rows.get(line)?.outcome !== want.label).map(([line, want]) => `line ${line} ${want.dnis}: ${run.rows.get(line)?.outcome}, want ${want.label}`);
  for (const [line, want] of wants) if (run.rows.get(line)?.outcome !== want.label) console.log(`line ${line} ${want.dnis} reported ${run.rows.get(line)?.outcome}; ${history(want.dnis)}`);
  expect(wrong).toEqual([]);
  // Each label says what this job did, as the simulator's write log shows it: lost answers and
  // redeliveries never turn this job's own create or move into `unchanged`.
  const reportedRows = [...run.rows].map(([line, row]) => ({ line, dnis: wants.get(line)?.dnis ?? '', outcome: row.outcome }));
  expect(outcomeMismatches(reportedRows.filter((r) => r.dnis), sim.state.events, uploadedAt)).toEqual([]);

  // 3. The final RingCX state is the desired state of every row.
  const misplaced = [...wants.values()].filter((want) => {
    const now = sim.state.assignments.get(want.dnis);
    if (!want.target) return now !== undefined;
    if (want.target.type === 'tracNumber') return now?.type !== 'tracNumber';
    return now?.type !== want.target.type || now.id !== want.target.id;
  });
  expect(misplaced.map((w) => `${w.dnis}: ${JSON.stringify(sim.state.assignments.get(w.dnis))}`)).toEqual([]);
  // Zero duplicate creates, zero orphaned tracking numbers.
  const creates = new Map<string, number>();
  for (const e of sim.state.events.filter((e) => e.kind === 'create')) creates.set(e.dnis, (creates.get(e.dnis) ?? 0) + 1);
  expect([...creates].filter(([, n]) => n > 1)).toEqual([]);
  expect([...sim.state.tracNumbers.values()].filter((t) => t.dnis === null)).toEqual([]);
  // Zero moves of a number its row did not allow to move.
  for (const want of wants.values()) {
    if (want.label !== 'conflict') continue;
    expect(sim.state.events.filter((e) => e.dnis === want.dnis && (e.kind === 'move' || e.kind === 'unassign')), want.dnis).toEqual([]);
  }
});

/** Waits until both row queues (work, bulk) have nothing visible or in flight for a few polls in a row. */
async function waitForQuiet(twin: Twin) {
  const { GetQueueAttributesCommand } = await import('@aws-sdk/client-sqs');
  for (let quiet = 0; quiet < 3; ) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    let depth = 0;
    for (const queue of [twin.stack.queues.work, twin.stack.queues.bulk]) {
      const attributes = await twin.stack.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queue.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      depth += Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    }
    quiet = depth === 0 ? quiet + 1 : 0;
  }
}
