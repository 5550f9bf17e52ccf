import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Makes `childPid` die with this process, even when this process is killed with SIGKILL and never
 * runs its cleanup. Linux has no portable "die with parent" for a spawned program, so a tiny shell
 * loop, in its own process group (a Ctrl-C to ours must not take it down before it has acted),
 * polls both pids and SIGKILLs the child once this process is gone. It exits by itself as soon as
 * the child has exited normally.
 */
export function killWithThisProcess(childPid: number | undefined, pollSeconds = 1): void {
  if (childPid === undefined || process.platform === 'win32') return;
  const script = `while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep ${pollSeconds}; done; kill -0 "$1" 2>/dev/null || kill -9 "$2" 2>/dev/null; exit 0`;
  const watchdog = spawn('/bin/sh', ['-c', script, 'dnis-sync-watchdog', String(process.pid), String(childPid)], {
    detached: true,
    stdio: 'ignore',
  });
  // Never keeps this process alive, and a missing /bin/sh must not crash the caller.
  watchdog.on('error', () => undefined);
  watchdog.unref();
}

/**
 * Calls `onOrphaned` once when the process that launched this one goes away, e.g. when `npm` is
 * killed hard. npm runs the script through `sh -c`, which outlives npm, so the parent alone says
 * nothing: each link from this process up to the npm process is watched, and a link that breaks
 * (an ancestor exited and its child was re-parented) means we were orphaned. Polls, since no
 * signal says so.
 */
export function watchParent(onOrphaned: () => void, pollMs = 1_000): () => void {
  const ancestors = launchChain();
  const timer = setInterval(() => {
    const intact = process.ppid === ancestors[0] && ancestors.every((pid, i) => i === ancestors.length - 1 || parentOf(pid) === ancestors[i + 1]);
    if (!intact) {
      clearInterval(timer);
      onOrphaned();
    }
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}

const NPM = /(^|[\s/])np[mx](-cli\.js)?(\s|$)/;

/** This process's ancestors up to the npm (or npx) that started it; just the parent without one. */
function launchChain(): number[] {
  const chain: number[] = [];
  for (let pid: number | undefined = process.ppid; pid !== undefined && pid > 1 && chain.length < 4; pid = parentOf(pid)) {
    chain.push(pid);
    if (NPM.test(commandLine(pid))) return chain;
  }
  return [process.ppid];
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie has exited; it only waits to be reaped.
    return fields[0] === 'Z' ? undefined : Number(fields[1]);
  } catch {
    return undefined;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
