import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRingCxSimulator } from '../../local/ringcx-simulator/server';
import { SavedPlanSchema } from '../../shared/domain/savedPlan';
import { DEMO_API_TOKEN, testClient } from '../helpers/ringcx';
import { cleanEnv, runCli } from './startProcess';

const BOOT = 240_000;
const writesOf = (entries: { method: string; route: string }[]) => entries.filter((e) => e.method !== 'GET' && !['searchPools', 'searchDnis'].includes(e.route));

describe('npm start --plan, then --apply-plan, against a separately running RingCX', () => {
  it(
    'saves a plan, applies exactly it, refuses the number moved in between, and applies it only once',
    async () => {
      const tenant = await startRingCxSimulator();
      try {
        const env = cleanEnv({ RINGCX_BASE_URL: tenant.url, RINGCX_SECRET_JSON: JSON.stringify({ apiToken: DEMO_API_TOKEN }) });
        const dir = mkdtempSync(join(tmpdir(), 'dnis-sync-saved-plan-'));
        const csv = join(dir, 'spring.csv');
        writeFileSync(
          csv,
          ['dnis,account_id,target_type,target_id,on_conflict', '12125550102,99990001,queue,4503,', '12125550101,99990001,queue,4503,reassign', '12125550170,99990001,visual_ivr,701,'].join('\n'),
        );

        const planned = await runCli(['--plan', '--no-export', '--out', join(dir, 'plan'), csv], env);
        const match = /^Plan (plan-[0-9a-z]+): (.+plan\.json)$/m.exec(planned.stdout);
        expect(match, planned.stdout + planned.stderr).not.toBeNull();
        const [, planId, planPath] = match as RegExpExecArray;
        expect(planned.code).toBe(0);
        const plan = SavedPlanSchema.parse(JSON.parse(readFileSync(planPath as string, 'utf8')));
        expect(plan.planId).toBe(planId);
        expect(plan.rows.map((r) => r.outcome)).toEqual(['assigned', 'reassigned', 'created']);
        expect(writesOf(tenant.apiCalls())).toEqual([]);

        // A supervisor moves one of the numbers in the admin portal before the apply.
        const { client } = testClient(tenant);
        await client.removeAssignment('12125550101');
        await client.assign('gate', 4501, [{ dnis: '12125550101', isActive: true }]);
        const logStart = tenant.apiCalls().length;

        const applied = await runCli(['--apply-plan', planPath as string, '--by', 'dana@example.com', '--reason', 'CHG-7', '--out', join(dir, 'apply')], env);
        expect(applied.stdout).toContain(`Plan ${planId}: 3 rows`);
        expect(applied.stdout).toMatch(/stale\s+1/);
        // Stale rows need a person's attention.
        expect(applied.code).toBe(1);
        const summary = JSON.parse(readFileSync(join(dir, 'apply', `apply-${planId}`, 'summary.json'), 'utf8'));
        expect(summary).toMatchObject({ planId, approval: { approvedBy: 'dana@example.com', reason: 'CHG-7' }, outcomes: { assigned: 1, created: 1, stale: 1 } });
        expect(tenant.state.assignments.get('12125550102')).toMatchObject({ type: 'gate', id: 4503 });
        expect(tenant.state.assignments.get('12125550170')).toMatchObject({ type: 'visualIvr', id: 701 });
        expect(tenant.state.assignments.get('12125550101')).toMatchObject({ type: 'gate', id: 4501 });
        expect(writesOf(tenant.apiCalls().slice(logStart)).map((e) => e.route).sort()).toEqual(['assign.gate', 'assign.visualIvr', 'createDnisPool']);
        expect(existsSync(planPath!.replace(/\.json$/, '.applied.json'))).toBe(true);

        const again = await runCli(['--apply-plan', planPath as string, '--out', join(dir, 'again')], env);
        expect(again.code).toBe(1);
        expect(again.stdout).toMatch(new RegExp(`was already applied by job ${summary.jobId} \\(approved by dana@example\\.com\\); nothing done`));
        expect(writesOf(tenant.apiCalls().slice(logStart)).length).toBe(3);
      } finally {
        await tenant.close();
      }
    },
    BOOT,
  );

  it('refuses a --apply-plan file that is not a saved plan with one line and exit 2, before starting anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dnis-sync-bad-plan-'));
    writeFileSync(join(dir, 'notjson.json'), '{plan');
    const notJson = await runCli(['--apply-plan', join(dir, 'notjson.json')]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^npm start: --apply-plan: .*notjson\.json is not JSON/)]);
    const missing = await runCli(['--apply-plan', join(dir, 'missing.json'), '--plan']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--apply-plan: no such file: /);
    expect(missing.stderr).toMatch(/--apply-plan applies a saved plan; --plan makes one/);
    expect(missing.stdout).not.toMatch(/RingCX simulator|RingCX:/);
  }, 60_000);
});
