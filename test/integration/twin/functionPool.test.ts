import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { FunctionPool, type InvocationRecord } from '../../../local/twin/functionPool';

const entry = fileURLToPath(new URL('./probeFunction.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
type Probe = {
  pid: number;
  invocations: number;
  remainingAtStart: number;
  remainingAtEnd: number;
  probeEnv: string;
  moduleUrl: string;
  execArgv: string[];
  nodeOptions: string;
  stackFrame: string;
};
let pool: FunctionPool | undefined;
afterEach(() => pool?.stop());

/** Printed, not asserted: how long init takes depends on the machine and its load. */
const printColdStarts = (label: string, records: InvocationRecord[]) => {
  const inits = records.filter((r) => r.coldStart).map((r) => `${Math.round(r.initMs as number)} ms`);
  console.warn(`${label}: cold start (fork to module loaded) ${inits.join(', ')}`);
};

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('runs each environment as its own process, reused while warm, with a truthful deadline', { timeout: 120_000 }, async () => {
  const records: InvocationRecord[] = [];
  pool = new FunctionPool({ functionName: 'probe', entry, env: { PROBE_ENV: 'from-the-twin' }, timeoutMs: 5_000, onInvocationEnd: (r) => records.push(r) });
  const first = await pool.invoke({});
  expect(first.status).toBe('ok');
  const a = (first as { value: Probe }).value;
  expect(a.pid).not.toBe(process.pid);
  expect(a.probeEnv).toBe('from-the-twin');
  expect(a.remainingAtStart).toBeLessThanOrEqual(5_000);
  expect(a.remainingAtStart).toBeGreaterThan(3_000);
  const second = (await pool.invoke({ sleepMs: 300 })) as { status: 'ok'; value: Probe };
  // Warm reuse: same process, module state carried over.
  expect(second.value.pid).toBe(a.pid);
  expect(second.value.invocations).toBe(2);
  expect(second.value.remainingAtEnd).toBeLessThan(second.value.remainingAtStart);
  // Two at once: two environments, each with its own module state.
  const [x, y] = (await Promise.all([pool.invoke({ sleepMs: 200 }), pool.invoke({ sleepMs: 200 })])) as { status: 'ok'; value: Probe }[];
  expect(new Set([x?.value.pid, y?.value.pid]).size).toBe(2);
  expect(records.filter((r) => r.coldStart)).toHaveLength(2);
  // Init is measured for cold starts only.
  for (const record of records) expect(record.initMs === undefined).toBe(!record.coldStart);
  expect(records.filter((r) => r.coldStart).every((r) => (r.initMs as number) > 0)).toBe(true);
  printColdStarts('bundled probe', records);
  // The first pool of this file built the bundles; later pools reuse them.
  console.warn(`probe deploy (host and function bundles built): ${Math.round(pool.deployMs as number)} ms`);
});

it('runs the function as Lambda does: its esbuild bundle, outside the repository, with plain node and source maps', { timeout: 120_000 }, async () => {
  const records: InvocationRecord[] = [];
  pool = new FunctionPool({ functionName: 'probe', entry, env: {}, timeoutMs: 5_000, onInvocationEnd: (r) => records.push(r) });
  const { value } = (await pool.invoke({})) as { status: 'ok'; value: Probe };
  const modulePath = fileURLToPath(value.moduleUrl);
  expect(modulePath).toMatch(/\/index\.mjs$/);
  // Nothing above it to resolve a package from, as in /var/task.
  expect(modulePath.startsWith(repoRoot)).toBe(false);
  expect(value.execArgv).toEqual(['--enable-source-maps']);
  expect(`${value.execArgv.join(' ')} ${value.nodeOptions}`).not.toMatch(/tsx/);
  // Minified code, yet the stack trace names the source.
  expect(value.stackFrame).toContain('probeFunction.ts');
  printColdStarts('bundled probe', records);
});

it('keeps what a RingCX failure says across the bundle boundary (the host has its own copy of the error class)', { timeout: 120_000 }, async () => {
  pool = new FunctionPool({ functionName: 'probe', entry, env: {}, timeoutMs: 5_000 });
  const outcome = await pool.invoke({ failRingCx: true });
  expect(outcome).toMatchObject({
    status: 'error',
    error: { name: 'RingCxError', ringcx: { kind: 'http', method: 'PUT', path: '/gates/4501', status: 503, errorCode: 'BUSY', generalMessage: 'try later', causeCodes: ['ECONNRESET'] } },
  });
});

it('runs the TypeScript entry through tsx when bundling is turned off (option or TWIN_BUNDLE=0)', { timeout: 120_000 }, async () => {
  const records: InvocationRecord[] = [];
  pool = new FunctionPool({ functionName: 'probe', entry, env: {}, timeoutMs: 5_000, bundle: false, onInvocationEnd: (r) => records.push(r) });
  const viaOption = (await pool.invoke({})) as { status: 'ok'; value: Probe };
  expect(fileURLToPath(viaOption.value.moduleUrl)).toBe(entry);
  expect(viaOption.value.execArgv).toEqual(['--import', 'tsx']);
  printColdStarts('probe through tsx', records);
  await pool.stop();
  const previous = process.env.TWIN_BUNDLE;
  process.env.TWIN_BUNDLE = '0';
  try {
    pool = new FunctionPool({ functionName: 'probe', entry, env: {}, timeoutMs: 5_000 });
  } finally {
    if (previous === undefined) delete process.env.TWIN_BUNDLE;
    else process.env.TWIN_BUNDLE = previous;
  }
  const viaEnv = (await pool.invoke({})) as { status: 'ok'; value: Probe };
  expect(fileURLToPath(viaEnv.value.moduleUrl)).toBe(entry);
});

it('reports a function that does not build as a failed deploy, on every invocation, without forking', { timeout: 120_000 }, async () => {
  pool = new FunctionPool({ functionName: 'missing', entry: fileURLToPath(new URL('./noSuchFunction.ts', import.meta.url)), env: {}, timeoutMs: 5_000 });
  await expect(pool.whenDeployed()).rejects.toThrow();
  for (let i = 0; i < 2; i++) {
    const outcome = await pool.invoke({});
    expect(outcome.status).toBe('error');
    expect((outcome as { message: string }).message).toMatch(/^deploy failed: .*noSuchFunction/s);
  }
  expect(pool.stats).toMatchObject({ coldStarts: 0, errors: 2 });
});

it('SIGKILLs an invocation that outlives its timeout; the next invocation is a cold start', { timeout: 120_000 }, async () => {
  pool = new FunctionPool({ functionName: 'probe', entry, env: {}, timeoutMs: 1_000 });
  const warm = (await pool.invoke({})) as { status: 'ok'; value: Probe };
  const killed = await pool.invoke({ sleepMs: 10_000 });
  expect(killed).toMatchObject({ status: 'timeout', message: 'Task timed out after 1.00 seconds' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(alive(warm.value.pid)).toBe(false);
  const next = (await pool.invoke({})) as { status: 'ok'; value: Probe };
  expect(next.value.pid).not.toBe(warm.value.pid);
  expect(next.value.invocations).toBe(1);
  expect(pool.stats).toMatchObject({ coldStarts: 2, timeouts: 1 });
});

it('reports handler errors and environments killed from outside, and retires environments after their quota', { timeout: 120_000 }, async () => {
  pool = new FunctionPool({ functionName: 'probe', entry, env: {}, timeoutMs: 10_000, maxInvocationsPerInstance: 2 });
  expect(await pool.invoke({ fail: 'boom' })).toEqual({ status: 'error', message: 'Error: boom', error: { name: 'Error', message: 'boom' } });
  const second = (await pool.invoke({})) as { status: 'ok'; value: Probe };
  expect(second.value.invocations).toBe(2);
  const third = (await pool.invoke({})) as { status: 'ok'; value: Probe };
  expect(third.value.pid).not.toBe(second.value.pid);
  const running = pool.invoke({ sleepMs: 5_000 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(pool.killBusy()).toBe(true);
  expect((await running).status).toBe('crashed');
});
