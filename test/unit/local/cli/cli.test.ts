import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { parseStartArgs } from '../../../../local/cli/args';
import { ErrorLog } from '../../../../local/cli/errorLog';
import { closestColumn, ignoredColumnLines } from '../../../../local/cli/hints';
import { planInputs } from '../../../../local/cli/inputs';
import { describeProbeFailure } from '../../../../local/cli/probe';
import { ProgressPrinter } from '../../../../local/cli/progress';
import { StallGuard } from '../../../../local/cli/stallGuard';
import { environmentProblems, fileProblem, outDirProblem } from '../../../../local/cli/validate';
import { RingCxAuthError, RingCxError } from '../../../../shared/ringcx/errors';

describe('parseStartArgs', () => {
  it('runs the example file with the defaults', () => {
    const { options, errors } = parseStartArgs([]);
    expect(errors).toEqual([]);
    expect(options).toMatchObject({ files: ['examples/numbers.csv'], plan: false, export: true, stage: 'dev', timeScale: 1, stallSeconds: undefined, reassign: undefined });
  });

  it('reads the twin flags and the stall limit', () => {
    const { options, errors } = parseStartArgs(['--stage', 'prod', '--time-scale', '10', '--stall-seconds=30', '--plan', '--no-export', 'a.csv']);
    expect(errors).toEqual([]);
    expect(options).toMatchObject({ files: ['a.csv'], plan: true, export: false, stage: 'prod', timeScale: 10, stallSeconds: 30 });
  });

  it('reports every mistake, one line each', () => {
    const { errors } = parseStartArgs(['--fast', '-q', '--plan=yes', '--out', '--stage', 'test', '--time-scale', '-1', '--expect', 'none']);
    expect(errors).toEqual([
      'unknown option --fast (see --help)',
      'unknown option -q (see --help)',
      '--plan takes no value (got "yes")',
      '--out needs a value (see --help)',
      '--stage takes dev or prod (got "test")',
      '--time-scale takes a positive number (got "-1")',
      '--expect only goes with --reassign DNIS (see --help)',
    ]);
  });

  it('checks a reassignment like the intake does, and runs no example file with it', () => {
    const ok = parseStartArgs(['--reassign', '12125550100', '--to', 'queue:4503', '--expect', 'none', '--by', 'ops', '--reason', 'CHG-42']);
    expect(ok.errors).toEqual([]);
    expect(ok.options.files).toEqual([]);
    expect(ok.options.export).toBe(false);
    expect(ok.options.reassign).toEqual({ dnis: '12125550100', to: { type: 'queue', id: 4503 }, expect: null, by: 'ops', reason: 'CHG-42' });

    expect(parseStartArgs(['--reassign', '12125550100']).errors).toEqual(['--reassign needs --to TYPE:ID, e.g. --to queue:4503']);
    expect(parseStartArgs(['--reassign', 'call me', '--to', 'queue']).errors).toEqual([
      '--reassign: "call me" contains letters; write the number with digits only',
      '--to takes TYPE:ID, e.g. queue:4503 (got "queue")',
    ]);
    expect(parseStartArgs(['--reassign', '12125550100', '--to', 'desk:4']).errors[0]).toMatch(/^--to: "desk" is not one of queue/);
  });
});

describe('environmentProblems', () => {
  it('accepts the simulator (nothing set) and each credential form', () => {
    expect(environmentProblems({})).toEqual([]);
    for (const secret of [{ apiToken: 't' }, { accessToken: 'a', expiresAt: '2030-01-01T00:00:00Z' }, { clientId: 'i', clientSecret: 's', jwt: 'j' }]) {
      expect(environmentProblems({ RINGCX_BASE_URL: 'https://ringcx.example.test', RINGCX_SECRET_JSON: JSON.stringify(secret) })).toEqual([]);
    }
  });

  it('names each problem without echoing the credentials', () => {
    const problems = environmentProblems({
      RINGCX_BASE_URL: 'ringcx.example.test',
      RINGCX_SECRET_JSON: '{"clientId":"id","clientSecret":"s3cr3t-value"}',
      RINGCX_DEFAULT_ACCOUNT_ID: 'acme',
      RINGCX_REQUESTS_PER_WINDOW: '0',
    });
    expect(problems).toEqual([
      'RINGCX_BASE_URL is not a URL (got "ringcx.example.test")',
      'RINGCX_SECRET_JSON: the RingCX secret is not usable: JWT credentials need all three of clientId, clientSecret and jwt',
      'RINGCX_DEFAULT_ACCOUNT_ID must be a numeric RingCX sub-account id (got "acme")',
      'RINGCX_REQUESTS_PER_WINDOW must be a positive whole number (got "0")',
    ]);
    expect(problems.join('\n')).not.toContain('s3cr3t-value');
    expect(environmentProblems({ RINGCX_SECRET_JSON: '{"apiToken":"t"}' })).toEqual([
      'RINGCX_SECRET_JSON is set but RINGCX_BASE_URL is not: say which RingCX server the credentials are for',
    ]);
  });
});

describe('planInputs', () => {
  it('gives same-named files their own key and reports folder, and keeps clear of the export folder', () => {
    const inputs = planInputs(['east/a.csv', 'west/a.csv', 'A.CSV', 'b.csv', 'reports/export.csv'], 'incoming');
    expect(inputs.map((i) => [i.key, i.reportsName])).toEqual([
      ['incoming/a.csv', 'a'],
      ['incoming/a-2.csv', 'a-2'],
      ['incoming/A-3.CSV', 'A-3'],
      ['incoming/b.csv', 'b'],
      ['incoming/export-2.csv', 'export-2'],
    ]);
    expect(inputs[1]?.renamedFrom).toBe('a.csv');
    expect(inputs[3]?.renamedFrom).toBeUndefined();
    expect(planInputs(['x/a.csv'], 'plan')[0]?.key).toBe('plan/a.csv');
  });
});

describe('ProgressPrinter', () => {
  const sink = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, out: { isTTY, write: (text: string) => writes.push(text) } };
  };

  it('redraws one bar in place on a terminal', () => {
    const { writes, out } = sink(true);
    const progress = new ProgressPrinter(out);
    progress.update('1/3');
    progress.update('2/3');
    progress.finish();
    expect(writes).toEqual(['\r1/3\x1b[K', '\r2/3\x1b[K', '\n']);
  });

  it('writes whole lines into a pipe, at most one per interval, and always the final state', () => {
    const { writes, out } = sink(false);
    let now = 0;
    const progress = new ProgressPrinter(out, 5_000, () => now);
    progress.update('parsing...');
    now = 1_000;
    progress.update('1/3');
    now = 6_000;
    progress.update('2/3');
    progress.update('2/3');
    now = 7_000;
    progress.update('3/3');
    progress.finish();
    expect(writes).toEqual(['parsing...\n', '2/3\n', '3/3\n']);
    expect(writes.join('')).not.toContain('\r');
  });
});

describe('column hints', () => {
  it('suggests the column a typo meant, and only then', () => {
    expect(closestColumn('target typ')).toBe('target_type');
    expect(closestColumn('Acount ID')).toBe('account_id');
    expect(closestColumn('owner')).toBeUndefined();
    expect(closestColumn('id')).toBeUndefined();
    expect(ignoredColumnLines(['target typ', 'owner'])).toEqual([
      '  note: column "target typ" was ignored (did you mean target_type?)',
      '  note: column "owner" was ignored (not a column of the CSV contract)',
    ]);
  });
});

describe('describeProbeFailure', () => {
  const target = { ringCxBaseUrl: 'https://ringcx.example.test:8443/voice', ringCentralBaseUrl: 'https://platform.example.test' };

  it('names the host and the reason of a refused connection', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const error = new RingCxError({ kind: 'connection', method: 'POST', path: '/voice/api/v1/admin/utilities/tnManager/search', cause });
    expect(describeProbeFailure(error, target)).toBe('cannot reach RingCX at https://ringcx.example.test:8443: connection refused');
  });

  it('blames the RingCentral login when the JWT grant fails, RingCX when a token is refused', () => {
    expect(describeProbeFailure(new RingCxAuthError('/restapi/oauth/token refused the credentials (HTTP 400)'), target)).toBe(
      'RingCentral at https://platform.example.test refused the credentials: /restapi/oauth/token refused the credentials (HTTP 400)',
    );
    const refused = new RingCxError({ kind: 'http', method: 'POST', path: '/x', status: 401, generalMessage: 'Bad token' });
    expect(describeProbeFailure(refused, target)).toBe('RingCX at https://ringcx.example.test:8443 refused the credentials: 401 Bad token');
    const lookup = new RingCxError({ kind: 'connection', method: 'POST', path: '/restapi/oauth/token', cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) });
    expect(describeProbeFailure(lookup, target)).toBe('cannot reach RingCentral at https://platform.example.test: host not found');
  });
});

describe('ErrorLog', () => {
  it('prints each distinct error once, as its first line, and counts repeats', () => {
    const printed: string[] = [];
    const log = new ErrorLog((line) => printed.push(line));
    log.add('worker', new Error('secret unreadable\n    at somewhere (file.ts:1:1)'));
    log.add('worker', new Error('secret unreadable'));
    log.add('token-refresher', 'the refresher gave up');
    expect(printed).toEqual(['error in worker: secret unreadable', 'error in token-refresher: the refresher gave up']);
    expect(log.lines()).toEqual(['  worker: secret unreadable (2 times)', '  token-refresher: the refresher gave up']);
  });
});

describe('StallGuard', () => {
  it('fires after the limit without activity, not while paused or touched', async () => {
    vi.useFakeTimers();
    try {
      const guard = new StallGuard(5_000);
      let fired = false;
      void guard.stalled.then(() => {
        fired = true;
      });
      let finishPaused!: () => void;
      const paused = guard.whilePaused(() => new Promise<void>((resolve) => (finishPaused = resolve)));
      await vi.advanceTimersByTimeAsync(20_000);
      expect(fired).toBe(false);
      finishPaused();
      await paused;
      await vi.advanceTimersByTimeAsync(4_000);
      guard.touch();
      await vi.advanceTimersByTimeAsync(4_000);
      expect(fired).toBe(false);
      await vi.advanceTimersByTimeAsync(3_000);
      expect(fired).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('fileProblem and outDirProblem', () => {
  it('says in words why a path is not a readable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dnis-sync-files-'));
    const file = join(dir, 'numbers.csv');
    writeFileSync(file, 'dnis\n12125550100\n');
    expect(fileProblem(file)).toBeUndefined();
    expect(fileProblem(join(dir, 'nope.csv'))).toBe(`no such file: ${join(dir, 'nope.csv')}`);
    expect(fileProblem(dir)).toBe(`${dir} is a directory, not a CSV file`);
    expect(fileProblem(join(file, 'inner.csv'))).toMatch(/^no such file: .*a part of the path is not a directory/);
    expect(outDirProblem(dir)).toBeUndefined();
    expect(outDirProblem(join(dir, 'new-folder'))).toBeUndefined();
    expect(outDirProblem(file)).toBe(`--out ${file} is a file, not a folder`);
  });
});
