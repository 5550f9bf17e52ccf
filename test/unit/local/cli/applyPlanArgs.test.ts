import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStartArgs } from '../../../../local/cli/args';
import { appliedMarkerPath, readSavedPlanFile } from '../../../../local/cli/savedPlanFile';

describe('npm start --apply-plan: arguments', () => {
  it('takes the plan file, the approver and the reason, and runs no example file and no export', () => {
    const { options, errors } = parseStartArgs(['--apply-plan', 'out/x/plan.json', '--by', 'dana', '--reason', 'CHG-42'], { USER: 'me' });
    expect(errors).toEqual([]);
    expect(options).toMatchObject({ applyPlan: { path: 'out/x/plan.json', by: 'dana', reason: 'CHG-42' }, files: [], export: false });
  });

  it('names the local user as approver when --by is not given', () => {
    const { options } = parseStartArgs(['--apply-plan', 'plan.json'], { USER: 'lee' });
    expect(options.applyPlan).toMatchObject({ by: 'local:lee', reason: 'approved with npm start --apply-plan' });
  });

  it('refuses combinations that make no sense, each in one line', () => {
    const { errors } = parseStartArgs(['--apply-plan', 'plan.json', '--plan', 'a.csv', '--reassign', '12125550100', '--to', 'queue:4503']);
    expect(errors).toEqual([
      '--apply-plan and --reassign are separate runs; give one of them',
      '--apply-plan applies a saved plan; --plan makes one. Give one of them',
      '--apply-plan takes no CSV files (got a.csv)',
    ]);
    expect(parseStartArgs(['--by', 'dana']).errors).toEqual(['--by only goes with --reassign DNIS or --apply-plan PLAN.json (see --help)']);
  });
});

describe('npm start --apply-plan: the plan file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dnis-sync-plan-file-'));
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('reads a saved plan', () => {
    const plan = {
      v: 1,
      planId: 'plan-0123456789abcdef01234567',
      createdAt: '2026-11-30T08:00:00.000Z',
      expiresAt: '2026-12-01T08:00:00.000Z',
      source: { bucket: 'b', key: 'plan/a.csv', versionId: null, sha256: 'a'.repeat(64) },
      jobId: '0123456789abcdef01234567',
      rows: [],
    };
    const read = readSavedPlanFile(write('plan.json', JSON.stringify(plan)));
    expect(read).toMatchObject({ ok: true, file: { plan: { planId: plan.planId } } });
  });

  it('says in one line what is wrong with anything else', () => {
    expect(readSavedPlanFile(join(dir, 'missing.json'))).toEqual({ ok: false, problem: `--apply-plan: no such file: ${join(dir, 'missing.json')}` });
    expect(readSavedPlanFile(write('bad.json', '{plan'))).toMatchObject({ ok: false, problem: expect.stringMatching(/bad\.json is not JSON/) });
    expect(readSavedPlanFile(write('other.json', '{"v":1}'))).toMatchObject({ ok: false, problem: expect.stringMatching(/other\.json is not a saved plan \(plan\.json from a --plan run\): planId: /) });
    expect(readSavedPlanFile(dir)).toMatchObject({ ok: false, problem: expect.stringMatching(/is a directory/) });
  });

  it('remembers a local apply beside the plan file', () => {
    expect(appliedMarkerPath('/x/plan.json')).toBe('/x/plan.applied.json');
    expect(appliedMarkerPath('/x/plan')).toBe('/x/plan.applied.json');
  });
});
