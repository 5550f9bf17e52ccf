import { execFile, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { startRingCxSimulator } from '../../local/ringcx-simulator/server';
import { DEMO_JWT_CREDENTIALS } from '../helpers/ringcx';
import { cleanEnv, isRunning, javaRecorder, parentOf, processesMentioning, runCli, STACK_FRAME, startCli, waitFor } from './startProcess';

const npmStart = async (args: string[], env: Record<string, string> = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)('npm', ['start', '--', ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code ?? null, stdout: failed.stdout, stderr: failed.stderr };
  }
};

const BOOT = 180_000;
const tempDir = (name: string) => mkdtempSync(join(tmpdir(), `dnis-sync-${name}-`));
const errorLines = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('npm start: '));

describe('npm start', () => {
  it(
    'runs the example file end to end, leaves the reports, and exits 1 because the example has rows that fail on purpose',
    async () => {
      const out = tempDir('start');
      const { code, stdout } = await npmStart(['--out', out]);
      expect(stdout).toMatch(/incoming\/numbers\.csv: completed/);
      expect(stdout).toMatch(/created\s+10/);
      expect(stdout).toMatch(/examples\/numbers\.csv: 1 failed, 2 rejected, 1 conflict/);
      expect(code).toBe(1);
      // stdout is a pipe here: progress comes as whole lines, never as a carriage-return bar.
      expect(stdout).not.toContain('\r');
      // Without --verbose no function's JSON (a log line, a metric's EMF line) reaches the terminal.
      expect(stdout.split('\n').filter((line) => line.startsWith('{'))).toEqual([]);
      expect(stdout).toMatch(/^\[#+\.*\] 16\/16 rows/m);
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
    },
    BOOT,
  );

  it(
    'plans a file against another RingCX server with JWT credentials, changing nothing there',
    async () => {
      const tenant = await startRingCxSimulator();
      try {
        const out = tempDir('plan');
        const { code, stdout } = await npmStart(['--plan', '--no-export', '--out', out, 'examples/numbers.csv'], {
          RINGCX_BASE_URL: tenant.url,
          RINGCENTRAL_BASE_URL: tenant.url,
          RINGCX_SECRET_JSON: JSON.stringify(DEMO_JWT_CREDENTIALS),
        });
        expect(stdout).toContain(`RingCX: ${tenant.url}`);
        expect(stdout).toMatch(/would-create\s+11/);
        expect(code).toBe(1);
        expect(existsSync(join(out, 'numbers', 'results.csv'))).toBe(true);
        // Logged in through the JWT exchange (the probe, then the worker), then only read.
        expect(tenant.auth.stats.exchanges).toBeGreaterThanOrEqual(1);
        expect(tenant.apiCalls().every((e) => ['searchPools', 'getAssignment'].includes(e.route))).toBe(true);
        expect(tenant.state.events).toEqual([]);
        expect(stdout).not.toContain(DEMO_JWT_CREDENTIALS.clientSecret);
        expect(stdout).not.toContain(DEMO_JWT_CREDENTIALS.jwt);
      } finally {
        await tenant.close();
      }
    },
    BOOT,
  );

  it('explains itself, its exit codes and the twin flags with --help', async () => {
    const { code, stdout } = await npmStart(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--plan/);
    expect(stdout).toMatch(/--reassign DNIS --to TYPE:ID/);
    expect(stdout).toMatch(/RINGCX_SECRET_JSON/);
    expect(stdout).toMatch(/--stage dev\|prod/);
    expect(stdout).toMatch(/--time-scale N/);
    expect(stdout).toMatch(/--stall-seconds S/);
    expect(stdout).toMatch(/Exit codes:[\s\S]*\b2\s+usage mistake[\s\S]*\b3\s+RingCX/);
  });

  it('refuses each usage mistake with one line and exit 2, before starting any emulator', async () => {
    const java = javaRecorder();
    const folder = tempDir('folder');
    const cases: Array<{ args: string[]; env?: Record<string, string>; lines: RegExp[] }> = [
      {
        args: ['--bogus', '--stage', 'qa', '--time-scale', '0', '--stall-seconds', 'soon', '--to', 'queue:4503', 'missing.csv', folder],
        lines: [
          /unknown option --bogus/,
          /--stage takes dev or prod/,
          /--time-scale takes a positive number/,
          /--stall-seconds takes a positive number/,
          /--to only goes with --reassign/,
          /no such file: missing\.csv/,
          /is a directory, not a CSV file/,
        ],
      },
      { args: ['--reassign', '12125550100', '--expect', 'floor:1'], lines: [/--reassign needs --to TYPE:ID/, /--expect: "floor" is not one of queue/] },
      { args: [], env: { RINGCX_BASE_URL: 'https://ringcx.example.test' }, lines: [/RINGCX_BASE_URL is set but RINGCX_SECRET_JSON is not/] },
      { args: [], env: { RINGCX_BASE_URL: 'https://ringcx.example.test', RINGCX_SECRET_JSON: '{apiToken:' }, lines: [/RINGCX_SECRET_JSON: .*not valid JSON/] },
      { args: [], env: { RINGCX_BASE_URL: 'https://ringcx.example.test', RINGCX_SECRET_JSON: '{"user":"me"}' }, lines: [/RINGCX_SECRET_JSON: .*apiToken, accessToken .* or clientId \+ clientSecret \+ jwt/] },
    ];
    for (const { args, env, lines } of cases) {
      const result = await runCli(args, cleanEnv({ PATH: java.path, ...env }));
      expect(result.code, args.join(' ')).toBe(2);
      const printed = errorLines(result.stderr);
      expect(printed, result.stderr).toHaveLength(lines.length);
      lines.forEach((line, index) => expect(printed[index]).toMatch(line));
      expect(result.stderr).not.toMatch(STACK_FRAME);
      expect(result.stdout).not.toMatch(/RingCX simulator|RingCX:/);
    }
    // Java was asked for its version, and DynamoDB Local never started.
    expect(java.starts().some((s) => s.args === '-version')).toBe(true);
    expect(java.dynamoPids()).toEqual([]);

    const noJava = await runCli([], cleanEnv({ PATH: tempDir('empty-path') }));
    expect(noJava.code).toBe(2);
    expect(errorLines(noJava.stderr)).toEqual(['npm start: Java is not installed, and DynamoDB Local needs it: apt-get install openjdk-17-jre-headless']);
    expect(noJava.stderr).not.toMatch(STACK_FRAME);
  }, BOOT);

  it('names the host and exits 3 when RingCX is unreachable or refuses the credentials, before starting anything', async () => {
    const java = javaRecorder();
    const tenant = await startRingCxSimulator();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    try {
      const wrongToken = await runCli(['--plan'], cleanEnv({ PATH: java.path, RINGCX_BASE_URL: tenant.url, RINGCX_SECRET_JSON: '{"apiToken":"not-the-token"}' }));
      expect(wrongToken.code).toBe(3);
      expect(errorLines(wrongToken.stderr)).toEqual([expect.stringMatching(new RegExp(`^npm start: RingCX at ${tenant.url} refused the credentials: 401`))]);

      const wrongSecret = await runCli(['--plan'], cleanEnv({
        PATH: java.path,
        RINGCX_BASE_URL: tenant.url,
        RINGCENTRAL_BASE_URL: tenant.url,
        RINGCX_SECRET_JSON: JSON.stringify({ ...DEMO_JWT_CREDENTIALS, clientSecret: 'wrong-client-secret' }),
      }));
      expect(wrongSecret.code).toBe(3);
      expect(errorLines(wrongSecret.stderr)).toEqual([expect.stringMatching(new RegExp(`^npm start: RingCentral at ${tenant.url} refused the credentials`))]);
      expect(wrongSecret.stderr + wrongSecret.stdout).not.toContain('wrong-client-secret');

      const unreachable = await runCli(['--plan'], cleanEnv({ PATH: java.path, RINGCX_BASE_URL: closedUrl, RINGCX_SECRET_JSON: '{"apiToken":"any"}' }));
      expect(unreachable.code).toBe(3);
      expect(errorLines(unreachable.stderr)).toEqual([`npm start: cannot reach RingCX at ${closedUrl}: connection refused`]);
      for (const result of [wrongToken, wrongSecret, unreachable]) expect(result.stderr).not.toMatch(STACK_FRAME);
      expect(java.dynamoPids()).toEqual([]);
    } finally {
      await tenant.close();
    }
  }, BOOT);

  it(
    'keeps same-named files apart, hints at a header typo, exits 1 when every row fails, and stops DynamoDB Local',
    async () => {
      const java = javaRecorder();
      const inputs = tempDir('inputs');
      const out = tempDir('out');
      mkdirSync(join(inputs, 'east'));
      mkdirSync(join(inputs, 'west'));
      // The simulator's tenant hides account 99990009 from the demo credentials: these rows fail.
      writeFileSync(join(inputs, 'east', 'a.csv'), 'dnis,description,account_id,target_type,target_id\n12125550171,East one,99990009,queue,4909\n12125550172,East two,99990009,queue,4909\n');
      writeFileSync(join(inputs, 'west', 'a.csv'), 'dnis,description,account_id,target typ,target_id\n12125550181,West one,99990009,queue,4909\n');
      const result = await runCli(['--no-export', '--out', out, join(inputs, 'east', 'a.csv'), join(inputs, 'west', 'a.csv')], cleanEnv({ PATH: java.path }));
      expect(result.code, result.stderr).toBe(1);
      expect(result.stdout).toContain('incoming/a.csv: completed');
      expect(result.stdout).toContain('incoming/a-2.csv: completed');
      expect(result.stdout).toContain('note: column "target typ" was ignored (did you mean target_type?)');
      expect(result.stdout).toMatch(/east\/a\.csv: 2 failed/);
      expect(result.stdout).not.toContain('\r');
      const east = readFileSync(join(out, 'a', 'results.csv'), 'utf8');
      const west = readFileSync(join(out, 'a-2', 'results.csv'), 'utf8');
      expect(east).toContain('12125550171');
      expect(east).not.toContain('12125550181');
      expect(west).toContain('12125550181');
      expect(JSON.parse(readFileSync(join(out, 'a', 'summary.json'), 'utf8')).source.key).toBe('incoming/a.csv');
      expect(JSON.parse(readFileSync(join(out, 'a-2', 'summary.json'), 'utf8')).source.key).toBe('incoming/a-2.csv');
      const [dynamo] = java.dynamoPids();
      expect(dynamo).toBeGreaterThan(0);
      expect(isRunning(dynamo as number)).toBe(false);
    },
    BOOT,
  );

  it(
    'does not hang when RingCX stops answering: prints the stall, exits 4 and stops everything',
    async () => {
      const java = javaRecorder();
      // Answers the probe, then never answers again.
      let requests = 0;
      const held: ServerResponse[] = [];
      const silent = createServer((request: IncomingMessage, response: ServerResponse) => {
        requests += 1;
        request.resume();
        if (requests === 1) {
          response.writeHead(200, { 'content-type': 'application/json' }).end('[]');
          return;
        }
        held.push(response);
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      try {
        const result = await runCli(['--no-export', '--stall-seconds', '20', '--out', tempDir('stall'), 'examples/numbers.csv'], cleanEnv({ PATH: java.path, RINGCX_BASE_URL: url, RINGCX_SECRET_JSON: '{"apiToken":"any"}' }));
        expect(result.code, result.stderr).toBe(4);
        expect(result.stderr).toContain('npm start: no progress for 20 s; stopping');
        expect(result.stderr).not.toMatch(STACK_FRAME);
        expect(requests).toBeGreaterThan(1);
        const [dynamo] = java.dynamoPids();
        expect(isRunning(dynamo as number)).toBe(false);
      } finally {
        for (const response of held) response.destroy();
        silent.closeAllConnections();
        await new Promise((resolve) => silent.close(resolve));
      }
    },
    BOOT,
  );

  it(
    'reports a RingCX that goes away before the export in one line naming it, and exits 3',
    async () => {
      const java = javaRecorder();
      // Answers the probe, then drops every connection.
      let requests = 0;
      const dropping = createServer((request: IncomingMessage, response: ServerResponse) => {
        requests += 1;
        request.resume();
        if (requests === 1) response.writeHead(200, { 'content-type': 'application/json' }).end('[]');
        else request.socket.destroy();
      });
      await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(dropping.address() as AddressInfo).port}`;
      const input = join(tempDir('header-only'), 'empty.csv');
      writeFileSync(input, 'dnis,description\n');
      try {
        const result = await runCli(['--out', tempDir('export-down'), input], cleanEnv({ PATH: java.path, RINGCX_BASE_URL: url, RINGCX_SECRET_JSON: '{"apiToken":"any"}' }));
        expect(result.code, result.stderr).toBe(3);
        expect(result.stdout).toMatch(/empty\.csv: the file was refused: the file has a header but no rows/);
        expect(errorLines(result.stderr).at(-1)).toMatch(new RegExp(`^npm start: export failed: cannot reach RingCX at ${url}: connection (closed by the server|reset)$`));
        expect(result.stderr).not.toMatch(STACK_FRAME);
        expect(isRunning(java.dynamoPids()[0] as number)).toBe(false);
      } finally {
        dropping.closeAllConnections();
        await new Promise((resolve) => dropping.close(resolve));
      }
    },
    BOOT,
  );

  it(
    'stops everything it started on SIGTERM and exits 143 without an error storm',
    async () => {
      const java = javaRecorder();
      const started = startCli(['--no-export', '--out', tempDir('terminated'), 'examples/numbers.csv'], cleanEnv({ PATH: java.path }));
      await waitFor('the stack to be up', () => started.output().stdout.includes('RingCX simulator'), BOOT - 30_000);
      const [dynamo] = java.dynamoPids();
      started.child.kill('SIGTERM');
      const result = await started.finished;
      expect(result.code, result.stderr).toBe(143);
      expect(errorLines(result.stderr)).toEqual(['npm start: SIGTERM: stopping the emulators']);
      expect(result.stderr).not.toMatch(STACK_FRAME);
      expect(isRunning(dynamo as number)).toBe(false);
    },
    BOOT,
  );

  it(
    'leaves no DynamoDB Local JVM or watchdog behind when its process is killed with SIGKILL',
    async () => {
      const java = javaRecorder();
      const started = startCli(['--no-export', '--out', tempDir('killed'), 'examples/numbers.csv'], cleanEnv({ PATH: java.path }));
      const dynamo = await waitFor('DynamoDB Local to start', () => java.dynamoPids()[0], BOOT - 30_000);
      const startPid = started.child.pid as number;
      expect(parentOf(dynamo)).toBe(startPid);
      expect(processesMentioning(`dnis-sync-watchdog ${startPid} ${dynamo}`)).toHaveLength(1);
      process.kill(startPid, 'SIGKILL');
      await started.finished;
      await waitFor('the JVM to exit', () => !isRunning(dynamo), 30_000);
      await waitFor('the watchdog to exit', () => processesMentioning(`dnis-sync-watchdog ${startPid}`).length === 0, 30_000);
      expect(isRunning(startPid)).toBe(false);
    },
    BOOT,
  );

  it(
    'stops by itself and leaves nothing behind when the npm that started it is killed with SIGKILL',
    async () => {
      const java = javaRecorder();
      const npm = spawn('npm', ['start', '--', '--no-export', '--out', tempDir('npm-killed'), 'examples/numbers.csv'], { env: cleanEnv({ PATH: java.path }), stdio: 'ignore' });
      try {
        const dynamo = await waitFor('DynamoDB Local to start', () => java.dynamoPids()[0], BOOT - 30_000);
        const startPid = await waitFor('the JVM to have its parent', () => parentOf(dynamo));
        npm.kill('SIGKILL');
        // npm's `sh -c` survives npm; local/start.ts notices the broken chain and stops.
        await waitFor('local/start.ts to stop', () => !isRunning(startPid), 60_000);
        await waitFor('the JVM to exit', () => !isRunning(dynamo), 30_000);
        expect(processesMentioning(`dnis-sync-watchdog ${startPid} `)).toEqual([]);
      } finally {
        npm.kill('SIGKILL');
      }
    },
    BOOT,
  );
});
