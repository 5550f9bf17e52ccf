import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

/**
 * Every line a test file's process writes (Powertools logs go straight to stdout; console calls
 * too) is copied to the run's log folder, where the global teardown scans it for secrets.
 */
const file = join(inject('logDir'), `worker-${process.pid}.log`);
const record = (chunk: unknown) => {
  try {
    appendFileSync(file, typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk : `${String(chunk)}\n`);
  } catch {
    // The scan reports what it got; a failed copy must not fail the test that logged.
  }
};
const quiet = /^\{"level":"(DEBUG|INFO)"/;
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    record(chunk);
    if (typeof chunk === 'string' && quiet.test(chunk)) return true;
    return write(chunk, ...rest);
  }) as typeof stream.write;
}
for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
  const original = console[level].bind(console);
  console[level] = (...args: unknown[]) => {
    record(`${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}\n`);
    original(...args);
  };
}
