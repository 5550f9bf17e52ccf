import { spawn } from 'node:child_process';

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
 * Calls `onOrphaned` once when the process that started this one goes away (its pid changes as we
 * are re-parented), e.g. when `tsx` or `npm` is killed hard. Polls, since no signal says so.
 */
export function watchParent(onOrphaned: () => void, pollMs = 1_000): () => void {
  const original = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== original) {
      clearInterval(timer);
      onOrphaned();
    }
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
