import { afterAll, beforeAll, expect, it } from 'vitest';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import type { ExportManifest } from '../../../shared/exporter/exportInventory';
import { outcomeTenant, runFile, startIngestPipeline } from '../../helpers/ingest';
import { parseCsv, type Pipeline } from '../../helpers/pipeline';

let pipeline: Pipeline;
let sim: RingCxSimulator;

/** The outcome tenant plus numbers in every shape the export writes. */
function roundTripTenant() {
  const seed = outcomeTenant();
  seed.pool?.push(
    // Non-NANP numbers: without a "+", 4312125550101 reads as a malformed US number.
    { dnis: '4312125550101', reservedAccountId: '99990001', dnisDescription: 'Wien', assignment: { type: 'gate', id: 4503, dnisDescription: 'Wien' } },
    { dnis: '442079460018', reservedAccountId: '99990002', dnisDescription: 'London, "main"', assignment: { type: 'visualIvr', id: 702, dnisDescription: 'London IVR' } },
    { dnis: '4930901820', reservedAccountId: '99990002', dnisDescription: 'Berlin spare' },
    // Every target kind, an inactive pool record and an inactive assignment, descriptions that
    // differ between pool and assignment or that the formula guard must neutralise.
    { dnis: '12125550130', reservedAccountId: '99990002', dnisDescription: 'Overflow', assignment: { type: 'cloudRouteProfile', id: 801, dnisDescription: 'Overflow' } },
    { dnis: '12125550131', reservedAccountId: '99990001', dnisDescription: 'Main menu', assignment: { type: 'visualIvr', id: 701, dnisDescription: 'Main menu' } },
    { dnis: '12125550132', reservedAccountId: '99990001', dnisDescription: 'Paused', active: false },
    { dnis: '12125550133', reservedAccountId: '99990002', dnisDescription: 'Night line', assignment: { type: 'gate', id: 4504, dnisDescription: 'Night line', isActive: false } },
    { dnis: '12125550134', reservedAccountId: '99990001', dnisDescription: 'Pool text', assignment: { type: 'gate', id: 4501, dnisDescription: 'Assignment text' } },
    { dnis: '12125550135', reservedAccountId: '99990001', dnisDescription: 'No assignment text', assignment: { type: 'gate', id: 4502 } },
    { dnis: '12125550136', reservedAccountId: '99990001', dnisDescription: '=cmd|calc', assignment: { type: 'gate', id: 4501, dnisDescription: '-1 floor' } },
    { dnis: '12125550137', reservedAccountId: '99990002', dnisDescription: 'Billboard' },
  );
  return seed;
}

beforeAll(async () => {
  pipeline = await startIngestPipeline({
    simulator: { seed: roundTripTenant() },
    env: { RINGCX_ACCOUNT_IDS: '99990001,99990002' },
  });
  sim = pipeline.stack.simulator as RingCxSimulator;
});
afterAll(() => pipeline?.stop());

const writes = () => sim.log.filter((e) => e.method !== 'GET' && !e.route.startsWith('auth.') && !['searchPools', 'searchDnis'].includes(e.route));

it('an export fed back as an input file changes nothing and reports every row unchanged', async () => {
  // A tracking number, so the export emits every target kind it knows.
  const admin = sim.auth.principals.get('demo-admin');
  if (!admin) throw new Error('the demo tenant has no demo-admin');
  await sim.state.createTracNumber(admin, '99990002', 901, { description: 'Billboard', assignedDnis: { dnis: '12125550137' } }, 'move');

  const manifest = (await pipeline.exporter({}, lambdaContext('exporter', 15 * 60_000))) as ExportManifest;
  const exported = (await pipeline.readObject(manifest.files.export)) ?? '';
  const rows = parseCsv(exported);
  const header = rows[0] ?? [];
  const column = (name: string) => header.indexOf(name);
  const data = rows.slice(1);
  expect(manifest.status).toBe('complete');
  expect(new Set(data.map((r) => r[column('target_type')]))).toEqual(new Set(['queue', 'visual_ivr', 'cloud_route_profile', 'tracking_group', '']));
  expect(data.map((r) => r[column('dnis')])).toEqual(expect.arrayContaining(['+4312125550101', '+442079460018', '+4930901820']));
  expect(data.find((r) => r[column('dnis')] === '+12125550136')?.[column('description')]).toBe("'=cmd|calc");

  const writesBefore = writes().length;
  const run = await runFile(pipeline, 'incoming/export-fed-back.csv', exported);

  expect(run.summary.rows).toEqual({ total: data.length, accepted: data.length, rejected: 0 });
  const notUnchanged = [...run.rows.entries()].filter(([, row]) => row.outcome !== 'unchanged');
  expect(notUnchanged).toEqual([]);
  expect(run.summary.outcomes).toEqual({ unchanged: data.length });
  // The export's informational columns are known, not flagged as ignored or as typos.
  expect(run.summary.ignoredColumns).toEqual([]);
  expect(run.summary.warnings).toEqual([]);
  // The simulator's own request log: not one write.
  expect(writes().slice(writesBefore)).toEqual([]);
  expect(run.failed.trim()).toBe([...header, 'error'].join(','));
});
