import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  child: ChildProcess;
  output(): { stdout: string; stderr: string };
  finished: Promise<Finished>;
}

/** The environment of a user who set nothing for RingCX, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (/^(RINGCX_|RINGCENTRAL_|POWERTOOLS_)/.test(name)) delete env[name];
  return { ...env, ...extra };
}

/** `node --import tsx local/start.ts ARGS`, what `npm start -- ARGS` runs, from the repository root. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const finished = new Promise<Finished>((resolveFinished) => {
    child.once('close', (code, signal) => resolveFinished({ code, signal, stdout, stderr }));
  });
  return { child, output: () => ({ stdout, stderr }), finished };
}

export const runCli = (args: string[], env?: NodeJS.ProcessEnv) => startCli(args, env).finished;

/**
 * A `java` on PATH that records each start (its pid, which `exec` keeps, and its arguments) and
 * then runs the real one. It shows whether DynamoDB Local was started at all, and which JVM to
 * look for afterwards.
 */
export function javaRecorder(): { path: string; log: string; starts(): Array<{ pid: number; args: string }>; dynamoPids(): number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'dnis-sync-java-'));
  const log = join(dir, 'starts.log');
  const realJava = execFileSync('/bin/sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
  writeFileSync(join(dir, 'java'), `#!/bin/sh\necho "$$ $*" >> "${log}"\nexec "${realJava}" "$@"\n`);
  chmodSync(join(dir, 'java'), 0o755);
  const starts = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => ({ pid: Number(line.split(' ')[0]), args: line.slice(line.indexOf(' ') + 1) }))
      : [];
  return {
    path: `${dir}:${process.env.PATH ?? ''}`,
    log,
    starts,
    dynamoPids: () => starts().filter((s) => s.args.includes('DynamoDBLocal.jar')).map((s) => s.pid),
  };
}

/** Alive and not a zombie (a zombie holds no memory and is only waiting to be reaped). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Every live process whose command line mentions `text`. */
export function processesMentioning(text: string): number[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(text))
    .map((line) => Number(line.trim().split(/\s+/)[0]))
    .filter((pid) => pid !== process.pid && isRunning(pid));
}

export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Lines that look like a JavaScript stack frame. */
export const STACK_FRAME = /^\s+at /m;
