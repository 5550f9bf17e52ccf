import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import type { ExportManifest } from '../../../shared/exporter/exportInventory';
import { outcomeTenant, runFile, startIngestPipeline } from '../../helpers/ingest';
import { parseCsv, type Pipeline } from '../../helpers/pipeline';

const INVENTORY = 5_000;
let pipeline: Pipeline;
let sim: RingCxSimulator;

/** 5,000 numbers: queues, Visual IVRs, a cloud route profile, unassigned. */
function bigTenant() {
  const seed = outcomeTenant();
  const targets = [
    { type: 'gate', id: 4501 },
    { type: 'gate', id: 4502 },
    { type: 'gate', id: 4504 },
    { type: 'visualIvr', id: 701 },
    { type: 'cloudRouteProfile', id: 801 },
    undefined,
  ] as const;
  for (let i = 0; i < INVENTORY; i++) {
    const target = targets[i % targets.length];
    seed.pool?.push({
      dnis: `1212${300 + Math.floor(i / 1000)}${String(i % 1000).padStart(4, '0')}`,
      reservedAccountId: i % 2 ? '99990002' : '99990001',
      dnisDescription: `Inventory ${i}`,
      ...(target ? { assignment: { type: target.type, id: target.id } } : {}),
    });
  }
  return seed;
}

const exportNow = async () => (await pipeline.exporter({}, lambdaContext('exporter', 15 * 60_000))) as ExportManifest;

beforeAll(async () => {
  pipeline = await startIngestPipeline({
    simulator: { seed: bigTenant() },
    env: { RINGCX_ACCOUNT_IDS: '99990001,99990002', EXPORT_PAGE_SIZE: '1000' },
  });
  sim = pipeline.stack.simulator as RingCxSimulator;
});
afterAll(() => pipeline?.stop());
beforeEach(() => sim.reset());

describe('scheduled export', () => {
  it('exports every number with its routing, in the fewest calls, with a manifest', async () => {
    // One tracking number, so the tracking_group column is exercised.
    await sim.state.createTracNumber(sim.auth.principals.get('demo-admin')!, '99990002', 901, { description: 'Billboard', assignedDnis: { dnis: '12123000005' } }, 'move');
    const manifest = await exportNow();
    const rows = parseCsv((await pipeline.readObject(manifest.files.export)) ?? '');
    const visible = [...sim.state.pool.values()].filter((r) => r.reservedAccountId !== '99990009').length;
    expect(rows[0]).toEqual(['dnis', 'e164', 'account_id', 'description', 'category', 'active', 'target_type', 'target_id', 'target_name', 'assignment_description', 'assignment_active', 'tracking_group']);
    expect(rows.slice(1)).toHaveLength(visible);
    expect(new Set(rows.slice(1).map((r) => r[0])).size).toBe(visible);
    // The dnis column is E.164, so the export reads back as an input file.
    expect(rows.slice(1).every((r) => /^\+[1-9][0-9]{6,14}$/.test(r[0] ?? ''))).toBe(true);
    const byDnis = new Map(rows.slice(1).map((r) => [(r[0] ?? '').slice(1), r]));
    expect(byDnis.get('12123000000')?.slice(6, 9)).toEqual(['queue', '4501', 'Support - General']);
    expect(byDnis.get('12123000003')?.slice(6, 9)).toEqual(['visual_ivr', '701', 'Main menu']);
    expect(byDnis.get('12123000004')?.slice(6, 8)).toEqual(['cloud_route_profile', '801']);
    expect(byDnis.get('12123000005')?.slice(6, 8)).toEqual(['tracking_group', '901']);
    expect(byDnis.get('12123000005')?.[11]).toBe('901:Spring campaign');
    expect(byDnis.get('12123000011')?.[6]).toBe('');
    // Plain E.164: `+` and digits are not a formula, so the guard leaves them alone.
    expect(byDnis.get('12123000000')?.slice(0, 2)).toEqual(['+12123000000', '+12123000000']);

    // ceil(numbers / page size) searches + one tracking-group listing per account, no per-number GETs.
    const pages = Math.ceil(visible / 1000);
    expect(manifest).toMatchObject({ status: 'complete', numbers: visible, pages, apiCalls: pages + 2 });
    expect(sim.apiCalls().map((e) => e.route).sort()).toEqual([...Array(pages).fill('searchPools'), 'listTracGroups', 'listTracGroups'].sort());
    expect(manifest.checksum.value).toMatch(/^[0-9a-f]{64}$/);
    const saved = JSON.parse((await pipeline.readObject(manifest.files.manifest)) ?? '{}');
    expect(saved.checksum).toEqual(manifest.checksum);
    expect(manifest.files.export).toMatch(/^exports\/\d{4}\/\d{2}\/\d{2}\/assignments-.+\.csv$/);
  });

  it('fetches single assignments only where the search leaves them out', async () => {
    sim.setKnobs({ inlineAssignments: false });
    // A smaller inventory: every GET is paced by the (scaled) RingCX budget.
    for (const dnis of [...sim.state.pool.keys()].filter((d) => d.startsWith('121230') && Number(d.slice(-4)) >= 100)) {
      sim.state.pool.delete(dnis);
      sim.state.assignments.delete(dnis);
    }
    try {
      const manifest = await exportNow();
      const assignedVisible = [...sim.state.assignments.keys()].filter((d) => sim.state.pool.get(d)?.reservedAccountId !== '99990009').length;
      expect(sim.apiCalls('getAssignment')).toHaveLength(assignedVisible);
      expect(manifest.assigned).toBe(assignedVisible);
    } finally {
      sim.setKnobs({ inlineAssignments: true });
    }
  });

  it('neutralises injection-looking cells', async () => {
    sim.state.pool.get('12123000001')!.dnisDescription = '=HYPERLINK("http://evil","click")';
    sim.state.pool.get('12123000002')!.dnisDescription = '@SUM(1+1)';
    const manifest = await exportNow();
    const text = (await pipeline.readObject(manifest.files.export)) ?? '';
    expect(text).toContain(`"'=HYPERLINK(""http://evil"",""click"")"`);
    expect(text).toContain("'@SUM(1+1)");
    for (const row of parseCsv(text)) for (const cell of row) if (!/^\+[0-9]+$/.test(cell)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });
});

describe('drift report', () => {
  it('finds each kind of drift against the desired-state ledger', async () => {
    // Declare six numbers through a real file, then let RingCX drift from it.
    await runFile(
      pipeline,
      'incoming/declared.csv',
      [
        'dnis,description,active,target_type,target_id',
        '12129000001,Kept,true,queue,4501',
        '12129000002,Gone,true,queue,4501',
        '12129000003,Moved,true,queue,4501',
        '12129000004,Dropped,true,queue,4501',
        '12129000005,Renamed,true,queue,4501',
        '12129000006,Switched off,true,queue,4501',
      ].join('\n'),
    );
    // Rows that named existing numbers but changed nothing: a conflict and a skip.
    const unapplied = await runFile(
      pipeline,
      'incoming/declared-not-applied.csv',
      ['dnis,target_type,target_id,on_conflict', '12123000000,queue,4502,fail', '12123000001,queue,4501,skip'].join('\n'),
    );
    expect([unapplied.rows.get(2)?.outcome, unapplied.rows.get(3)?.outcome]).toEqual(['conflict', 'skipped']);
    const state = sim.state;
    state.pool.delete('12129000002');
    state.assignments.delete('12129000002');
    state.assignments.set('12129000003', { ...state.assignments.get('12129000003')!, id: 4502 });
    state.assignments.delete('12129000004');
    state.pool.get('12129000005')!.dnisDescription = 'Renamed by hand';
    state.pool.get('12129000006')!.active = false;

    const manifest = await exportNow();
    const drift = parseCsv((await pipeline.readObject(manifest.files.drift)) ?? '').slice(1);
    const kinds = (dnis: string) => drift.filter((r) => r[0] === dnis).map((r) => r[1]);
    expect(kinds('12129000001')).toEqual([]);
    expect(kinds('12129000002')).toEqual(['missing']);
    expect(kinds('12129000003')).toEqual(['assigned-elsewhere']);
    expect(drift.find((r) => r[0] === '12129000003')?.slice(2, 4)).toEqual(['queue:4501', 'queue:4502']);
    expect(kinds('12129000004')).toEqual(['unassigned']);
    expect(kinds('12129000005')).toEqual(['description-mismatch']);
    expect(kinds('12129000006')).toEqual(['active-mismatch']);
    expect(kinds('12123000002')).toEqual(['undeclared']);
    // Declared by a file, so not "undeclared"; nothing applied, so nothing to compare.
    expect(kinds('12123000000')).toEqual(['not-applied']);
    expect(kinds('12123000001')).toEqual(['not-applied']);
    expect(drift.find((r) => r[0] === '12123000000')?.slice(3)).toEqual([
      'queue:4501',
      'declared by a file row that ended conflict; nothing was applied, so there is no desired state to compare (informational)',
      unapplied.jobId,
      '2',
    ]);
    expect(drift.find((r) => r[0] === '12123000001')?.slice(4)).toEqual([expect.stringContaining('ended skipped'), unapplied.jobId, '3']);
    expect(manifest.drift).toMatchObject({ missing: 1, 'assigned-elsewhere': 1, unassigned: 1, 'description-mismatch': 1, 'active-mismatch': 1, 'not-applied': 2 });
    const event = pipeline.stack.json.events.at(-1);
    expect(event?.detailType).toBe('DNIS Drift Detected');
    expect(event?.detail).toMatchObject({ drift: { missing: 1 } });
  });
});
