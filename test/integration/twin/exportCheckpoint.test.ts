import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { demoTenant, inventoryNumbers } from '../../../local/ringcx-simulator/fixtures';
import { type Twin, startTwin } from '../../helpers/pipeline';

/**
 * The scheduled export of a large tenant on the twin, prod sizing at time scale 10: the exporter's
 * 15-minute timeout becomes 90 s (SIGKILL after), and it keeps 30 s of it for the checkpoint. With
 * the whole shared budget free, 251 pages could fit one invocation; RingCX answering each page in
 * 400 ms (as a loaded tenant does) makes the pages alone outlast one, so the export must continue
 * over several, each from the checkpoint the one before saved, through the exports queue and its
 * event source mapping. EXPORT_SCALE_NUMBERS sets the inventory (default 250,000).
 */
const PAGE_LATENCY_MS = 400;
const TIME_SCALE = 10;
const NUMBERS = Number(process.env.EXPORT_SCALE_NUMBERS ?? 250_000);
const TICK = '2026-11-30T11:00:00.000Z';
let twin: Twin;

beforeAll(async () => {
  const seed = demoTenant();
  seed.pool = (seed.pool ?? []).concat(inventoryNumbers(NUMBERS));
  twin = await startTwin({ stage: 'prod', timeScale: TIME_SCALE, simulator: { seed, knobs: { latencyMs: PAGE_LATENCY_MS } } });
}, 300_000);
afterAll(() => twin?.stop());

it(`exports ${NUMBERS} numbers over several invocations: each once, a checksum that matches, drift found`, { timeout: 1_800_000 }, async () => {
  // Planted drift: declared numbers, one at the start of the inventory left alone (read by the
  // first invocation, so "declared but missing" at the end must remember it), one deleted, one
  // moved, one renamed, one switched off. Unassigned numbers of the Support account, so each row applies.
  const declared = ['16462000000', '16462000006', '16462000012', '16462000018', '16462000024'];
  const parse = await twin.upload(
    'incoming/declared.csv',
    ['dnis,description,active,target_type,target_id', ...declared.map((dnis) => `${dnis},Declared,true,queue,4501`)].join('\n'),
  );
  await twin.waitForJob(parse.jobId);
  const { state } = twin.sim;
  expect(declared.map((dnis) => state.assignments.get(dnis)?.id)).toEqual([4501, 4501, 4501, 4501, 4501]);
  state.pool.delete('16462000006');
  state.assignments.delete('16462000006');
  state.assignments.set('16462000012', { ...state.assignments.get('16462000012')!, id: 4502 });
  state.pool.get('16462000018')!.dnisDescription = 'Renamed by hand';
  state.pool.get('16462000024')!.active = false;

  const callsBefore = twin.sim.apiCalls().length;
  const invocationsBefore = twin.runner.exporterPool.stats.invocations;
  const started = Date.now();
  const first = await twin.runner.exporterPool.invoke({ scheduledTime: TICK });
  expect(first.status).toBe('ok');
  const progress = (first as { value: { status: string; files: { manifest: string } } }).value;
  expect(progress.status).toBe('continuing');
  const manifest = await twin.runner.exportManifest(progress.files.manifest, 1_500_000);
  const wallMs = Date.now() - started;
  // The manifest is written before the last invocation commits its checkpoint and returns.
  await twin.runner.whenIdle();
  const invocations = twin.runner.exporterPool.stats.invocations - invocationsBefore;
  const calls = twin.sim.apiCalls().slice(callsBefore);

  const visible = [...state.pool.values()].filter((r) => r.reservedAccountId !== '99990009');
  const pages = Math.ceil(visible.length / 1000);
  expect(manifest).toMatchObject({ status: 'complete', numbers: visible.length, pages, apiCalls: pages + 2 });
  expect(manifest.invocations).toBeGreaterThan(1);
  expect(invocations).toBe(manifest.invocations);
  // The accounts and their tracking groups are read once, by the first invocation; the rest carry them.
  expect(calls.map((c) => c.route).filter((r) => r !== 'searchPools').sort()).toEqual(['listAccounts', 'listTracGroups', 'listTracGroups']);
  expect(twin.runner.errors).toEqual([]);

  const text = await twin.runner.readObject(manifest.files.export as string);
  expect(manifest.checksum).toEqual({ algorithm: 'sha256', value: createHash('sha256').update(text).digest('hex') });
  const lines = text.split('\n').filter(Boolean);
  expect(lines[0]?.startsWith('dnis,')).toBe(true);
  const exported = lines.slice(1).map((line) => line.slice(1, line.indexOf(',')));
  expect(exported).toHaveLength(visible.length);
  expect(new Set(exported).size).toBe(visible.length);
  const expected = new Set(visible.map((r) => r.dnis));
  expect(exported.filter((dnis) => !expected.has(dnis))).toEqual([]);

  const drift = (await twin.runner.readObject(manifest.files.drift as string)).split('\n').slice(1).filter(Boolean).map((line) => line.split(','));
  const kinds = (dnis: string) => drift.filter((r) => r[0] === dnis).map((r) => r[1]);
  expect(kinds('16462000000')).toEqual([]);
  expect(kinds('16462000006')).toEqual(['missing']);
  expect(kinds('16462000012')).toEqual(['assigned-elsewhere']);
  expect(kinds('16462000018')).toEqual(['description-mismatch']);
  expect(kinds('16462000024')).toEqual(['active-mismatch']);
  expect(drift.filter((r) => r[1] === 'missing')).toHaveLength(1);
  expect(manifest.drift).toMatchObject({ missing: 1, 'assigned-elsewhere': 1, 'description-mismatch': 1, 'active-mismatch': 1 });

  console.log(
    `export of ${visible.length} numbers at ×${TIME_SCALE}, prod sizing: ${(wallMs / 1000).toFixed(0)} s wall; ${manifest.invocations} invocations; ` +
      `${calls.length} RingCX calls (${pages} searches); manifest ${JSON.stringify({ apiCalls: manifest.apiCalls, durationMs: manifest.durationMs, headroomMs: manifest.headroomMs, drift: manifest.drift })}`,
  );
});
