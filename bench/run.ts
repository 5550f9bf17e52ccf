/**
 * `npm run bench`: measurements side by side in one run, printed as ratios and saved with the
 * machine they ran on. Nothing here asserts a time; the goals are printed next to the figures.
 *
 *   npm run bench                 all sections
 *   npm run bench -- parser       one section (parser | requests | export | throughput | budget | moves)
 *   BENCH_ROWS=200000 npm run bench -- parser
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, type } from 'node:os';
import { Readable } from 'node:stream';
import { Upload } from '@aws-sdk/lib-storage';
import { build } from 'esbuild';
import { Agent } from 'undici';
import { startLocalStack, type LocalStack } from '../local/stack';
import { LocalDriver } from '../local/wiring/driver';
import type { RingCxSimulator } from '../local/ringcx-simulator/server';
import { staticTokenProvider } from '../shared/ringcx/auth/tokenProvider';
import { RingCxClient } from '../shared/ringcx/client';
import { DETAIL_TYPES } from '../shared/contracts';
import { maxInAnyWindow } from '../local/twin/requestWindows';
import { twinSizing } from '../local/twin/sizing';
import { conditionalWriteRates, countItems, type WriteRate } from './storeCeiling';

const sections = process.argv.slice(2);
const wants = (name: string) => sections.length === 0 || sections.includes(name);

export const machine = {
  os: `${type()} ${process.arch}`,
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGb: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
  date: new Date().toISOString(),
};

function table(rows: (string | number)[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => String(r[c]).length))) ?? [];
  return rows.map((r, i) => {
    const line = `| ${r.map((cell, c) => String(cell).padEnd(widths[c] ?? 0)).join(' | ')} |`;
    return i === 0 ? `${line}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|` : line;
  }).join('\n');
}

function save(name: string, data: Record<string, unknown>, markdown: string) {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(`bench/results/${name}.json`, `${JSON.stringify({ machine, ...data }, null, 2)}\n`);
  writeFileSync(`bench/results/${name}.md`, `${markdown}\n\nMachine: ${machine.cpus}, ${machine.memoryGb} GB, ${machine.os}, Node ${machine.node}, ${machine.date}.\n`);
  console.log(`${markdown}\n`);
}

/** A valid, distinct NANP number for each index (212 area code, exchanges 200-999). */
export function benchNumber(i: number): string {
  const exchange = 200 + Math.floor(i / 10_000);
  return `1212${exchange}${String(i % 10_000).padStart(4, '0')}`;
}

async function parserSection(stack: LocalStack) {
  const rows = Number(process.env.BENCH_ROWS ?? 1_000_000);
  const key = `incoming/bench/parser-${rows}.csv`;
  const lines = function* () {
    yield 'dnis,description,target_type,target_id\n';
    for (let i = 0; i < rows; i++) yield `${benchNumber(i)},Bench line ${i},queue,${4501 + (i % 5)}\n`;
  };
  await new Upload({ client: stack.s3, params: { Bucket: stack.env.BUCKET_NAME, Key: key, Body: Readable.from(lines()) }, partSize: 8 * 1024 * 1024 }).done();
  const env = { ...process.env, ...stack.env, BENCH_KEY: key, MAX_ROWS: String(rows + 1), MAX_FILE_BYTES: String(512 * 1024 * 1024), POWERTOOLS_LOG_LEVEL: 'ERROR' };
  // Bundled as the Lambda is (esbuild, AWS SDK external), so the RSS is the function's, not tsx's.
  const run = (mode: string) => runChild('bench/parserChild.ts', mode, env);
  const baseline = await run('baseline');
  const parser = await run('parser');
  const parserRate = parser.rows / parser.seconds;
  const baselineRate = baseline.rows / baseline.seconds;
  const validateRate = parser.rows / (parser.timings.validateMs / 1000);
  const markdown = [
    `### Parser: ${rows.toLocaleString('en-US')} rows from S3 (fauxqs), child process`,
    '',
    table([
      ['', 'rows/s', 'seconds', 'peak RSS (MB)', 'goal'],
      ['bare csv-parse, one pass', Math.round(baselineRate), baseline.seconds.toFixed(1), Math.round(baseline.maxRssMb), ''],
      ['dnis-sync parser: read + parse + validate + dedupe', Math.round(validateRate), (parser.timings.validateMs / 1000).toFixed(1), '', '>= 100,000 rows/s'],
      ['dnis-sync parser: whole run (+ spool, fan-out, job record)', Math.round(parserRate), parser.seconds.toFixed(1), Math.round(parser.maxRssMb), 'peak RSS < 200 MB'],
    ]),
    '',
    `Parse + validate runs at ${(validateRate / baselineRate).toFixed(2)}× the speed of bare csv-parse; the whole run at ${(parserRate / baselineRate).toFixed(2)}×. ${parser.messages.toLocaleString('en-US')} messages built (SQS sends counted, not stored, so the emulator's speed stays out).`,
  ].join('\n');
  save('parser', { rows, baseline, parser, validateRowsPerSecond: validateRate, ratioToBaseline: parserRate / baselineRate }, markdown);
}

async function requestsSection(stack: LocalStack) {
  const numbers = Number(process.env.BENCH_NUMBERS ?? 2_000);
  const sim = stack.simulator as RingCxSimulator;
  // Unthrottled, so this section measures calls per number, not pacing (the throughput section does that).
  sim.setKnobs({ rateLimit: { budget: 1_000_000 }, latencyMs: 0 });
  Object.assign(process.env, stack.env, { RINGCX_REQUESTS_PER_WINDOW: '1000000', RINGCX_BUDGET_TABLE: '', POWERTOOLS_LOG_LEVEL: 'ERROR' });
  const parser = (await import('../functions/parser/app')).handler;
  const worker = (await import('../functions/worker/app')).handler;
  // Batches of 100 in this process: this section counts requests, not instances or deadlines.
  const driver = new LocalDriver(stack, { parser, worker: { mode: 'in-process', handler: worker, batchSize: 100 } });
  const csv = ['dnis,description,target_type,target_id', ...Array.from({ length: numbers }, (_, i) => `${benchNumber(i)},Bench ${i},queue,${4501 + (i % 5)}`)].join('\n');
  const event = await driver.upload('incoming/bench/requests.csv', csv);
  const started = performance.now();
  await driver.parse(event);
  await driver.drain();
  await driver.stop();
  const pipelineSeconds = (performance.now() - started) / 1000;
  const pipelineCalls = sim.apiCalls().length;

  sim.reset();
  const client = new RingCxClient({ baseUrl: sim.url, tokenProvider: staticTokenProvider({ name: 'x-auth-token', value: 'demo-api-token' }), dispatcher: new Agent({ connections: 1 }) });
  const naiveStarted = performance.now();
  for (let i = 0; i < numbers; i++) {
    const dnis = benchNumber(i);
    await client.searchDnis({ searchText: dnis });
    await client.createDnisPool([{ dnis, reservedAccountId: '99990001', dnisDescription: `Bench ${i}` }]);
    await client.assignToGate(4501 + (i % 5), [{ dnis, isActive: true, dnisDescription: `Bench ${i}` }]);
  }
  const naiveSeconds = (performance.now() - naiveStarted) / 1000;
  const naiveCalls = sim.apiCalls().length;
  const perNumber = pipelineCalls / numbers;
  const naivePerNumber = naiveCalls / numbers;
  const markdown = [
    `### RingCX requests per number: ${numbers.toLocaleString('en-US')} new numbers, 5 queues`,
    '',
    table([
      ['flow', 'requests', 'requests / number', 'goal'],
      ['seed naive flow (search → create → assign, one at a time)', naiveCalls, naivePerNumber.toFixed(3), '3.0'],
      ['dnis-sync pipeline (parser → SQS → worker batches of 100)', pipelineCalls, perNumber.toFixed(3), '<= 0.35'],
    ]),
    '',
    `The pipeline needs ${(naivePerNumber / perNumber).toFixed(1)}× fewer RingCX requests per number; at RingCX's 120/min that bounds a 10,000-number file at ${Math.ceil((10_000 * perNumber) / 120)} min against ${Math.ceil((10_000 * naivePerNumber) / 120)} min.`,
  ].join('\n');
  save('requests', { numbers, pipelineCalls, naiveCalls, perNumber, naivePerNumber, pipelineSeconds, naiveSeconds }, markdown);
}

async function runChild(entry: string, mode: string, env: NodeJS.ProcessEnv) {
  const outfile = `bench/.build/${entry.replace(/^bench\//, '').replace(/\.ts$/, '.mjs')}`;
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    external: ['@aws-sdk/*'],
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    logLevel: 'error',
  });
  // Asynchronous on purpose: the emulators the child talks to live in this process's event loop.
  const { stdout } = await promisify(execFile)(process.execPath, [outfile, mode], { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string);
}

async function exportSection() {
  const numbers = Number(process.env.BENCH_EXPORT_NUMBERS ?? 50_000);
  const { demoTenant } = await import('../local/ringcx-simulator/fixtures');
  const seed = demoTenant();
  const targets = [{ type: 'gate', id: 4501 }, { type: 'gate', id: 4504 }, { type: 'visualIvr', id: 701 }, { type: 'cloudRouteProfile', id: 801 }, undefined] as const;
  for (let i = 0; i < numbers; i++) {
    const target = targets[i % targets.length];
    seed.pool?.push({ dnis: benchNumber(i), reservedAccountId: i % 2 ? '99990002' : '99990001', dnisDescription: `Export ${i}`, ...(target ? { assignment: { type: target.type, id: target.id } } : {}) });
  }
  const exportStack = await startLocalStack({ simulator: { seed, knobs: { rateLimit: { budget: 1_000_000 } } } });
  try {
    const env = { ...process.env, ...exportStack.env, RINGCX_ACCOUNT_IDS: '99990001,99990002', EXPORT_PAGE_SIZE: '1000', RINGCX_REQUESTS_PER_WINDOW: '1000000', RINGCX_BUDGET_TABLE: '', POWERTOOLS_LOG_LEVEL: 'ERROR' };
    const idle = await runChild('bench/exportChild.ts', 'idle', env);
    const run = await runChild('bench/exportChild.ts', 'export', env);
    const markdown = [
      `### Export: ${run.numbers.toLocaleString('en-US')} numbers, page size 1,000, child process`,
      '',
      table([
        ['', 'RingCX requests', 'requests / 1,000 numbers', 'seconds', 'peak RSS (MB)'],
        ['bundle loaded, no export (baseline)', 0, '', idle.seconds.toFixed(1), Math.round(idle.maxRssMb)],
        ['export + drift report', run.apiCalls, ((run.apiCalls / run.numbers) * 1000).toFixed(2), run.seconds.toFixed(1), Math.round(run.maxRssMb)],
      ]),
      '',
      `${run.pages} search pages + 2 tracking-group listings; assignments come inline, so no per-number calls (a per-number read would be ${run.numbers.toLocaleString('en-US')} calls, ${Math.round(run.numbers / run.apiCalls)}× more). At RingCX's 120/min the export needs ${(run.apiCalls / 120).toFixed(1)} min of budget. The export adds ${Math.round(run.maxRssMb - idle.maxRssMb)} MB over the idle bundle.`,
    ].join('\n');
    save('export', { numbers: run.numbers, idle, run }, markdown);
  } finally {
    await exportStack.stop();
  }
}

/**
 * RingCX's budget time-scaled ×10 (1,200/min, 30 ms latency). The full local pipeline and the
 * guide's naive flow run against the same simulator settings; the naive flow is sampled, since at
 * 3 requests per number it is budget-bound at a steady rate from the first minute.
 */
/** What RingCX itself counts: every API and auth request, not the simulator's own admin routes. */
function ringcxRequests(sim: RingCxSimulator) {
  return sim.log.filter((e) => !e.route.startsWith('admin'));
}

/** The deployed-shape imports' targets: 5 queues and 2 Visual IVRs, in turn. */
const IMPORT_TARGETS = [4501, 4502, 4503, 4504, 4505].map((id) => `queue,${id}`).concat(['visual_ivr,701', 'visual_ivr,702']);

/** A file of `count` new numbers from bench number `first` on, over IMPORT_TARGETS. */
function importCsv(first: number, count: number): Buffer {
  const lines = Array.from({ length: count }, (_, i) => `${benchNumber(first + i)},Load ${i},${IMPORT_TARGETS[i % IMPORT_TARGETS.length]}`);
  return Buffer.from(['dnis,description,target_type,target_id', ...lines].join('\n'));
}

/** The 20 live numbers the reassignment bursts move (seeded on queue 4501). */
const BURST_NUMBERS = Array.from({ length: 20 }, (_, i) => `1212955${1000 + i}`);

/**
 * 20 reassignment requests put on the bus at once, each timed to when RingCX applied its move (the
 * simulator's timestamped write, as routing sees it) and to its answer event.
 */
async function reassignmentBurst(runner: { reassign: (detail: Record<string, unknown>, timeoutMs?: number) => Promise<{ detailType: string }> }, sim: RingCxSimulator) {
  return Promise.all(
    BURST_NUMBERS.map(async (dnis) => {
      const putAt = Date.now();
      const answer = await runner.reassign({ dnis, target: { type: 'queue', id: 4503 }, requestedBy: 'bench', reason: 'latency under load' }, 600_000);
      const applied = sim.state.events.find((e) => e.dnis === dnis && e.at >= putAt && (e.kind === 'assign' || e.kind === 'move'));
      return { ms: (applied?.at ?? Number.NaN) - putAt, answeredMs: Date.now() - putAt, ok: answer.detailType === DETAIL_TYPES.reassigned && applied !== undefined };
    }),
  );
}

/**
 * The share of the ideal bound the twin can reach at all: the import's durable writes take at
 * least `importItems` ÷ (DynamoDB Local's best conditional write rate), whatever else it does.
 */
function twinCeiling(run: { numbers: number; ideal: number; importItems: number; writeRates: WriteRate[]; pipelineRate: number }) {
  const best = Math.max(...run.writeRates.map((r) => r.itemsPerSecond));
  const storeSeconds = run.importItems / best;
  const idealSeconds = (run.numbers / run.ideal) * 60;
  const shareCeiling = Math.min(1, idealSeconds / storeSeconds);
  return { storeSeconds, idealSeconds, shareCeiling, reachedOfCeiling: run.pipelineRate / run.ideal / shareCeiling };
}

async function throughputSection() {
  const numbers = Number(process.env.BENCH_THROUGHPUT_NUMBERS ?? 10_000);
  const naiveSample = Number(process.env.BENCH_NAIVE_SAMPLE ?? 300);
  const budget = 1_200;
  const { demoTenant } = await import('../local/ringcx-simulator/fixtures');
  const seed = demoTenant();
  // 20 live numbers for the reassignment requests that arrive during the import.
  for (const dnis of BURST_NUMBERS) seed.pool?.push({ dnis, reservedAccountId: '99990001', assignment: { type: 'gate', id: 4501 } });
  // The twin with prod sizing at ×10: RingCX's 120 per (scaled) minute, each worker instance its own slice.
  const tStack = await startLocalStack({ stage: 'prod', timeScale: 10, simulator: { seed, knobs: { latencyMs: 30 } }, env: { POWERTOOLS_LOG_LEVEL: 'ERROR' } });
  const sim = tStack.simulator as RingCxSimulator;
  try {
    Object.assign(process.env, tStack.env);
    const { LocalRunner } = await import('../local/wiring/runner');
    const handlers = {
      parser: (await import('../functions/parser/app')).handler,
      intake: (await import('../functions/reassign-intake/app')).handler,
    };
    const runner = new LocalRunner(tStack, handlers);
    runner.start();
    // The bundle build is the deploy, not part of the import.
    await runner.workerPool.whenDeployed();
    // 1. The import alone: throughput against the budget.
    const started = performance.now();
    const job = await runner.runFile('incoming/bench/throughput.csv', importCsv(0, numbers));
    const wallSeconds = (performance.now() - started) / 1000;
    const calls = sim.apiCalls();
    const firstRunLog = ringcxRequests(sim);
    // Everything the import left in the job table (intents, outcomes, ledger entries, job items).
    const importItems = await countItems(tStack.env.AWS_ENDPOINT_URL_DYNAMODB as string, tStack.env.TABLE_NAME as string);

    // 2. The mixed case: 20 reassignments arrive while a second import of the same size runs.
    sim.reset();
    const mixedStarted = performance.now();
    const mixedImport = runner.runFile('incoming/bench/mixed.csv', importCsv(300_000, numbers));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const latencies = await reassignmentBurst(runner, sim);
    const eventsAnsweredAt = performance.now();
    await mixedImport;
    const mixedEndedAt = performance.now();
    await runner.stop();
    const rows = calls.filter((e) => e.status !== 429);
    const throttled = calls.filter((e) => e.status === 429).length;
    const pipelineRate = numbers / (wallSeconds / 60);
    const perNumber = calls.length / numbers;
    // The ideal bound: the budget spent on nothing but this import's own requests per number.
    const ideal = budget / perNumber;
    // Every request RingCX saw (auth included) in every sliding budget window: none may exceed the limit.
    const windowMs = tStack.sizing.ringcx.windowMs;
    const tenantLimit = tStack.sizing.ringcx.tenantRequestsPerWindow;
    const worstWindow = maxInAnyWindow([...firstRunLog, ...ringcxRequests(sim)].map((e) => e.at), windowMs);

    sim.reset();
    const { RateLimiter } = await import('../shared/ringcx/rateLimiter');
    const client = new RingCxClient({ baseUrl: sim.url, tokenProvider: staticTokenProvider({ name: 'x-auth-token', value: 'demo-api-token' }), limiter: new RateLimiter({ budget, windowMs: 60_000 }), dispatcher: new Agent({ connections: 1 }) });
    const naiveStarted = performance.now();
    for (let i = 0; i < naiveSample; i++) {
      const dnis = benchNumber(500_000 + i);
      await client.searchDnis({ searchText: dnis });
      await client.createDnisPool([{ dnis, reservedAccountId: '99990001' }]);
      await client.assignToGate(4501 + (i % 5), [{ dnis, isActive: true }]);
    }
    const naiveSeconds = (performance.now() - naiveStarted) / 1000;
    const naiveRate = naiveSample / (naiveSeconds / 60);
    const naiveCalls = sim.apiCalls();
    // Last, with nothing else running: the fastest DynamoDB Local takes conditional writes here.
    const writeRates = await conditionalWriteRates(tStack.env.AWS_ENDPOINT_URL_DYNAMODB as string, tStack.env.TABLE_NAME as string);
    const ceiling = twinCeiling({ numbers, ideal, importItems, writeRates, pipelineRate });
    const sorted = latencies.map((l) => l.ms).sort((a, b) => a - b);
    const answeredSorted = latencies.map((l) => l.answeredMs).sort((a, b) => a - b);
    const naivePerNumber = naiveCalls.length / naiveSample;
    const markdown = [
      `### Deployed shape: ${numbers.toLocaleString('en-US')} new numbers over 5 queues and 2 Visual IVRs, prod sizing on the twin (×10: RingCX's ${tenantLimit} per ${windowMs / 1000} s = ${budget}/min), 30 ms latency`,
      '',
      'Worker instances are separate processes sharing one RingCX budget through DynamoDB Local (shared/ringcx/sharedBudget.ts); cheap rows travel on the bulk queue in batches of ' +
        `${tStack.sizing.queues.bulk.batchSize}. Measured from the simulator's request log.`,
      '',
      table([
        ['flow', 'wall time (s)', 'numbers / min', 'requests / number', '429s', 'share of its ideal bound'],
        [`naive (search → create → assign), ${naiveSample}-number sample`, naiveSeconds.toFixed(0), Math.round(naiveRate), naivePerNumber.toFixed(3), naiveCalls.filter((e) => e.status === 429).length, `${((naiveRate / (budget / naivePerNumber)) * 100).toFixed(1)}%`],
        ['dnis-sync pipeline on the twin', wallSeconds.toFixed(0), Math.round(pipelineRate), perNumber.toFixed(4), `${throttled} (${((throttled / calls.length) * 100).toFixed(2)}%)`, `${((pipelineRate / ideal) * 100).toFixed(1)}%`],
      ]),
      '',
      `Ideal bound: budget ÷ requests per number (${budget}/min ÷ ${perNumber.toFixed(4)} = ${Math.round(ideal).toLocaleString('en-US')} numbers/min for the pipeline; ${Math.round(budget / naivePerNumber)} for the naive flow). ` +
        `Pipeline vs naive: ${(pipelineRate / naiveRate).toFixed(1)}× the numbers per minute. Busiest sliding ${windowMs / 1000} s window (both imports, every request incl. auth): ${worstWindow} of ${tenantLimit}. ` +
        'Goals: ≥ 90% of the ideal bound, ≤ 1% 429s, ≤ 0.03 requests per new number, no window over the limit.',
      '',
      `Job outcome: ${JSON.stringify(job.summary.outcomes)}; ${rows.length} RingCX requests answered.`,
      '',
      `Twin ceiling at this time scale: the import left ${importItems.toLocaleString('en-US')} items in the job table (each row's intent, outcome and ledger entry, written in conditional transactions). ` +
        `DynamoDB Local on this machine takes conditional writes at ${writeRates.map((r) => `${Math.round(r.itemsPerSecond)}/s with ${r.concurrency} transaction${r.concurrency > 1 ? 's' : ''} of 100 in flight`).join(', ')} (measured in this run, nothing else running). ` +
        `At the best of these, writing those items alone takes ${ceiling.storeSeconds.toFixed(1)} s, while the ideal bound finishes ${numbers.toLocaleString('en-US')} numbers in ${ceiling.idealSeconds.toFixed(1)} s (90% of it: ${(ceiling.idealSeconds / 0.9).toFixed(1)} s). ` +
        `So no pipeline that keeps those records can pass ${(ceiling.shareCeiling * 100).toFixed(1)}% of the bound on this twin at ×10; this run reached ${((ceiling.reachedOfCeiling) * 100).toFixed(0)}% of that ceiling.`,
      '',
      `#### 20 reassignment events during the import`,
      '',
      table([
        ['', 'put → applied in RingCX (s)', `budget windows (${windowMs / 1000} s)`, 'put → answer event (s)'],
        ...([['fastest', 0], ['median', 10], ['slowest', 19]] as const).map(([label, at]) => [
          label,
          (sorted[at]! / 1000).toFixed(1),
          (sorted[at]! / windowMs).toFixed(2),
          (answeredSorted[at]! / 1000).toFixed(1),
        ]),
      ]),
      '',
      "Applied: the simulator's write that put the number on its new queue. The answer event follows once the outcome, audit and ledger entries are recorded.",
      '',
      `${latencies.filter((l) => l.ok).length}/20 applied, the last ${((mixedEndedAt - eventsAnsweredAt) / 1000).toFixed(0)} s before the import they arrived during finished (${((mixedEndedAt - mixedStarted) / 1000).toFixed(0)} s in all). Goal: each within one budget window.`,
    ].join('\n');
    save('throughput', { numbers, budget, wallSeconds, pipelineRate, perNumber, throttled, totalCalls: calls.length, ideal, importItems, writeRates, ceiling, worstWindow, tenantLimit, naive: { sample: naiveSample, seconds: naiveSeconds, rate: naiveRate }, latenciesMs: sorted, answeredMs: answeredSorted, outcomes: job.summary.outcomes }, markdown);
  } finally {
    await tStack.stop();
  }
}

/**
 * The same import in real time (×1 by default), once per bulk-queue maxConcurrency. At ×10 the
 * twin divides RingCX's window but not DynamoDB Local's or a process start's cost, so an import of
 * cheap rows is bound by its bookkeeping there, not by the budget. At ×1 those costs stand in
 * their deployed proportion to RingCX's 120 a minute (DynamoDB Local on this machine is slower
 * than DynamoDB), which shows how close the budget itself lets an import come to its ideal bound,
 * and how many instances it takes to get there.
 */
async function budgetSection() {
  const numbers = Number(process.env.BENCH_BUDGET_NUMBERS ?? 10_000);
  const timeScale = Number(process.env.BENCH_BUDGET_TIME_SCALE ?? 1);
  const concurrencies = (process.env.BENCH_BULK_CONCURRENCY ?? '1,2,4').split(',').map(Number);
  const { demoTenant } = await import('../local/ringcx-simulator/fixtures');
  const { LocalRunner } = await import('../local/wiring/runner');
  const rows: (string | number)[][] = [['bulk maxConcurrency', 'wall (s)', 'before the first request / paced / after the last (s)', 'requests / min while paced', 'numbers / min', 'requests / number', 'ideal bound (numbers / min)', 'share of the ideal bound', '429s', 'busiest window', 'cold starts']];
  const data: Record<string, unknown>[] = [];
  // One stack for every run (the functions' modules read their endpoints once); each run gets new
  // worker environments, a reset simulator (its log and rate window) and numbers of its own.
  const seed = demoTenant();
  for (const dnis of BURST_NUMBERS) seed.pool?.push({ dnis, reservedAccountId: '99990001', assignment: { type: 'gate', id: 4501 } });
  const bStack = await startLocalStack({ stage: 'prod', timeScale, simulator: { seed, knobs: { latencyMs: Math.round(300 / timeScale) } }, env: { POWERTOOLS_LOG_LEVEL: 'ERROR' } });
  const stageConcurrency = bStack.sizing.queues.bulk.maxConcurrency;
  let burst: { ms: number; answeredMs: number; ok: boolean }[] = [];
  const sim = bStack.simulator as RingCxSimulator;
  Object.assign(process.env, bStack.env);
  const handlers = { parser: (await import('../functions/parser/app')).handler, intake: (await import('../functions/reassign-intake/app')).handler };
  try {
    for (const [run, concurrency] of concurrencies.entries()) {
      // The experiment's one change to the stage's sizing: how many bulk batches run at once.
      bStack.sizing.queues.bulk.maxConcurrency = concurrency;
      // RingCX's rate window starts empty, as after a quiet minute (the budget's slices of the run
      // before are past already).
      sim.reset();
      const runner = new LocalRunner(bStack, handlers);
      try {
        runner.start();
        // The bundle build is the deploy, not part of the import.
        await runner.workerPool.whenDeployed();
        const startedAt = Date.now();
        const job = await runner.runFile(`incoming/bench/budget-${concurrency}.csv`, importCsv(400_000 + run * 20_000, numbers));
        const endedAt = Date.now();
        const wallSeconds = (endedAt - startedAt) / 1000;
        const log = ringcxRequests(sim);
        // Where the time outside RingCX's pacing goes: before its first request and after its last.
        const firstAt = Math.min(...log.map((e) => e.at));
        const lastAt = Math.max(...log.map((e) => e.at));
        const phases = { beforeFirstS: (firstAt - startedAt) / 1000, pacedS: (lastAt - firstAt) / 1000, afterLastS: (endedAt - lastAt) / 1000 };
        const perNumber = log.length / numbers;
        const perMinute = (bStack.sizing.ringcx.tenantRequestsPerWindow * 60_000) / bStack.sizing.ringcx.windowMs;
        const ideal = perMinute / perNumber;
        const rate = numbers / (wallSeconds / 60);
        const throttled = log.filter((e) => e.status === 429).length;
        const worstWindow = maxInAnyWindow(log.map((e) => e.at), bStack.sizing.ringcx.windowMs);
        const { coldStarts } = runner.workerPool.stats;
        rows.push([
          concurrency,
          wallSeconds.toFixed(0),
          `${phases.beforeFirstS.toFixed(1)} / ${phases.pacedS.toFixed(1)} / ${phases.afterLastS.toFixed(1)}`,
          Math.round(((log.length - 1) * 60) / phases.pacedS / timeScale),
          Math.round(rate),
          perNumber.toFixed(4),
          Math.round(ideal),
          `${((rate / ideal) * 100).toFixed(1)}%`,
          throttled,
          `${worstWindow} of ${bStack.sizing.ringcx.tenantRequestsPerWindow}`,
          coldStarts,
        ]);
        data.push({ concurrency, wallSeconds, phases, rate, perNumber, ideal, throttled, worstWindow, coldStarts, outcomes: job.summary.outcomes });
      } finally {
        await runner.stop();
      }
    }
    // The same import at the stage's concurrency with 20 reassignment requests put on the bus a
    // sixth of a window in, each timed to its move in RingCX.
    bStack.sizing.queues.bulk.maxConcurrency = stageConcurrency;
    sim.reset();
    const runner = new LocalRunner(bStack, handlers);
    try {
      runner.start();
      await runner.workerPool.whenDeployed();
      const mixedImport = runner.runFile('incoming/bench/budget-mixed.csv', importCsv(600_000, numbers));
      await new Promise((resolve) => setTimeout(resolve, bStack.sizing.ringcx.windowMs / 6));
      burst = await reassignmentBurst(runner, sim);
      await mixedImport;
    } finally {
      await runner.stop();
    }
  } finally {
    await bStack.stop();
  }
  const { windowMs, headroom } = twinSizing('prod', timeScale).ringcx;
  const applied = burst.map((b) => b.ms).sort((a, b) => a - b);
  const answered = burst.map((b) => b.answeredMs).sort((a, b) => a - b);
  const markdown = [
    `### Budget-bound: ${numbers.toLocaleString('en-US')} new numbers over 7 targets, prod sizing on the twin at ×${timeScale}, by bulk maxConcurrency`,
    '',
    "Separate worker processes sharing the RingCX budget through DynamoDB Local, as in the throughput section, but with the twin's unscaled costs (DynamoDB Local, process starts) in their real-time proportion to RingCX's budget. " +
      `Headroom ${(headroom * 100).toFixed(2)}%: an import can reach at most ${(100 - headroom * 100).toFixed(1)}% of the bound.`,
    '',
    table(rows),
    '',
    'Ideal bound: the whole budget (120 a minute, scaled) ÷ requests per number. Goal: ≥ 90% of it.',
    '',
    `#### 20 reassignment requests put on the bus during the import (bulk maxConcurrency ${stageConcurrency})`,
    '',
    table([
      ['', 'put → applied in RingCX (s)', `budget windows (${windowMs / 1000} s)`, 'put → answer event (s)'],
      ...([['fastest', 0], ['median', 10], ['slowest', 19]] as const).map(([label, at]) => [label, (applied[at]! / 1000).toFixed(1), (applied[at]! / windowMs).toFixed(2), (answered[at]! / 1000).toFixed(1)]),
    ]),
    '',
    `${burst.filter((b) => b.ok).length}/20 applied. Goal: each within one budget window.`,
  ].join('\n');
  save('budget', { numbers, timeScale, runs: data, reassignments: { appliedMs: applied, answeredMs: answered, ok: burst.filter((b) => b.ok).length } }, markdown);
}

/**
 * Moves under the deployed shape: pre-assigned numbers moved with on_conflict=reassign on the twin
 * with prod sizing (worker processes with their own limiters and real deadlines, batches of 100,
 * maxConcurrency 2) at a time scale. Reports how long the file takes, how long each number routed
 * nowhere (from the simulator's timestamped writes), and the RingCX calls each move cost.
 */
async function movesSection() {
  const numbers = Number(process.env.BENCH_MOVES ?? 1_000);
  const timeScale = Number(process.env.BENCH_TIME_SCALE ?? 10);
  const { demoTenant } = await import('../local/ringcx-simulator/fixtures');
  const { FunctionPool } = await import('../local/twin/functionPool');
  const { LocalRunner } = await import('../local/wiring/runner');
  const { distribution, unroutedIntervals } = await import('../local/twin/routingAudit');
  const seed = demoTenant();
  const moved = (i: number) => benchNumber(700_000 + i);
  for (let i = 0; i < numbers; i++) seed.pool?.push({ dnis: moved(i), reservedAccountId: '99990001', dnisDescription: `Live ${i}`, assignment: { type: 'gate', id: 4501 + (i % 2) } });
  const mStack = await startLocalStack({ stage: 'prod', timeScale, simulator: { seed }, env: { POWERTOOLS_LOG_LEVEL: 'ERROR' } });
  const sim = mStack.simulator as RingCxSimulator;
  // The runner's own job-table reads use this process's environment.
  Object.assign(process.env, mStack.env);
  // The parser too runs in its own process, so this section does not share module state with the others.
  const parserPool = new FunctionPool({ functionName: 'dnis-sync-parser', entry: fileURLToPath(new URL('../functions/parser/app.ts', import.meta.url)), env: mStack.env, timeoutMs: mStack.sizing.timeoutMs.parser });
  const parser = async (event: unknown) => {
    const outcome = await parserPool.invoke(event);
    if (outcome.status !== 'ok') throw new Error(`parser: ${outcome.message}`);
    return outcome.value;
  };
  const runner = new LocalRunner(mStack, { parser });
  try {
    runner.start();
    const csv = ['dnis,description,target_type,target_id,on_conflict', ...Array.from({ length: numbers }, (_, i) => `${moved(i)},Moved ${i},queue,4503,reassign`)].join('\n');
    const started = Date.now();
    const job = await runner.runFile('incoming/bench/moves.csv', Buffer.from(csv));
    const seconds = (Date.now() - started) / 1000;
    const numberSet = new Set(Array.from({ length: numbers }, (_, i) => moved(i)));
    const intervals = unroutedIntervals(sim.state.events, numberSet);
    const open = intervals.filter((g) => g.to === undefined).length;
    const gaps = distribution(intervals.map((g) => (g.to ?? Date.now()) - g.from));
    const onTarget = [...numberSet].filter((n) => sim.state.assignments.get(n)?.id === 4503).length;
    const calls = sim.apiCalls();
    const answered = calls.filter((e) => e.status !== 429).length;
    const stats = runner.workerPool.stats;
    const ms = (value: number) => `${value.toFixed(0)} ms (${((value * timeScale) / 1000).toFixed(1)} s unscaled)`;
    const markdown = [
      `### Moves: ${numbers.toLocaleString('en-US')} live numbers, on_conflict=reassign, prod sizing on the twin (×${timeScale})`,
      '',
      table([
        ['measure', 'value'],
        ['completion (wall)', `${seconds.toFixed(0)} s (${((seconds * timeScale) / 60).toFixed(1)} min unscaled)`],
        ['numbers on the new target', `${onTarget} / ${numbers}`],
        ['outcomes', JSON.stringify(job.summary.outcomes)],
        ['moves with an unrouted gap', `${gaps.count} (${open} still unrouted at the end)`],
        ['unrouted gap, median', ms(gaps.median)],
        ['unrouted gap, p99', ms(gaps.p99)],
        ['unrouted gap, max', ms(gaps.max)],
        ['RingCX calls per move (answered / all incl. 429)', `${(answered / numbers).toFixed(2)} / ${(calls.length / numbers).toFixed(2)}`],
        ['worker invocations (timed out, cold starts)', `${stats.invocations} (${stats.timeouts}, ${stats.coldStarts})`],
      ]),
      '',
      `Goal: every number reassigned; no gap above 2 s at ×10 (20 s unscaled).`,
    ].join('\n');
    save('moves', { numbers, timeScale, seconds, onTarget, outcomes: job.summary.outcomes, gaps, openGaps: open, calls: calls.length, answered, worker: stats }, markdown);
  } finally {
    await runner.stop();
    await parserPool.stop();
    await mStack.stop();
  }
}

const stack = await startLocalStack({ simulator: { knobs: {} } });
try {
  if (wants('parser')) await parserSection(stack);
  if (wants('requests')) await requestsSection(stack);
} finally {
  await stack.stop();
}
if (wants('export')) await exportSection();
if (wants('throughput')) await throughputSection();
if (wants('budget')) {
  // Alone in a process of its own: the functions it runs in this process (parser, intake) read
  // their endpoints once, when first loaded, and a section before it loaded them for its stack.
  if (sections.length === 1) await budgetSection();
  else await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'budget'], { stdio: 'inherit' });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`budget section exited with ${code}`))));
  });
}
if (wants('moves')) await movesSection();
process.exit(0);
