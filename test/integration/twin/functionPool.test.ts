import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { FunctionPool, type InvocationRecord } from '../../../local/twin/functionPool';

const entry = fileURLToPath(new URL('./probeFunction.ts', import.meta.url));
type Probe = { pid: number; invocations: number; remainingAtStart: number; remainingAtEnd: number; probeEnv: string };
let pool: FunctionPool | undefined;
afterEach(() => pool?.stop());

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
