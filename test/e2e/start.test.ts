import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startRingCxSimulator } from '../../local/ringcx-simulator/server';
import { DEMO_JWT_CREDENTIALS } from '../helpers/ringcx';

const run = (args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)('npm', ['start', '--', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240_000 });

describe('npm start', () => {
  it('runs the example file end to end, exits 0 and leaves the reports', async () => {
    const out = mkdtempSync(join(tmpdir(), 'dnis-sync-start-'));
    const { stdout } = await run(['--out', out]);
    expect(stdout).toMatch(/incoming\/numbers\.csv: completed/);
    expect(stdout).toMatch(/created\s+10/);
    const results = readFileSync(join(out, 'numbers', 'results.csv'), 'utf8').trim().split('\r\n');
    expect(results[0]).toBe('line,dnis,outcome,target,detail');
    expect(results).toHaveLength(17);
    const summary = JSON.parse(readFileSync(join(out, 'numbers', 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ status: 'completed', rows: { total: 16, accepted: 14, rejected: 2 }, outcomes: { created: 10 } });
    expect(readFileSync(join(out, 'numbers', 'failed.csv'), 'utf8')).toContain('212-555-01x9,Typo in number');
    const exported = readdirSync(join(out, 'export'));
    expect(exported.some((f) => /^assignments-.*\.csv$/.test(f))).toBe(true);
    expect(exported.some((f) => /^drift-.*\.csv$/.test(f))).toBe(true);
    expect(exported.some((f) => /^manifest-.*\.json$/.test(f))).toBe(true);
  });

  it('plans a file against another RingCX server with JWT credentials, changing nothing there', async () => {
    const tenant = await startRingCxSimulator();
    try {
      const out = mkdtempSync(join(tmpdir(), 'dnis-sync-plan-'));
      const { stdout } = await run(['--plan', '--no-export', '--out', out, 'examples/numbers.csv'], {
        RINGCX_BASE_URL: tenant.url,
        RINGCENTRAL_BASE_URL: tenant.url,
        RINGCX_SECRET_JSON: JSON.stringify(DEMO_JWT_CREDENTIALS),
      });
      expect(stdout).toContain(`RingCX: ${tenant.url}`);
      expect(stdout).toMatch(/would-create\s+11/);
      expect(existsSync(join(out, 'numbers', 'results.csv'))).toBe(true);
      // Logged in through the JWT exchange, then only read.
      expect(tenant.auth.stats.exchanges).toBeGreaterThanOrEqual(1);
      expect(tenant.apiCalls().every((e) => ['searchPools', 'getAssignment'].includes(e.route))).toBe(true);
      expect(tenant.state.events).toEqual([]);
      // No token or credential is printed.
      expect(stdout).not.toContain(DEMO_JWT_CREDENTIALS.clientSecret);
      expect(stdout).not.toContain(DEMO_JWT_CREDENTIALS.jwt);
    } finally {
      await tenant.close();
    }
  });

  it('explains itself with --help', async () => {
    const { stdout } = await run(['--help']);
    expect(stdout).toMatch(/--plan/);
    expect(stdout).toMatch(/--reassign DNIS --to TYPE:ID/);
    expect(stdout).toMatch(/RINGCX_SECRET_JSON/);
  });
});
