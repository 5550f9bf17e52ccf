/**
 * Errors thrown by the functions or the local event delivery. Each distinct message is printed
 * once, when it first happens, so a failure is visible without --verbose but does not flood the
 * console when every batch hits it; the counts are kept for the stall report.
 */
export class ErrorLog {
  private readonly seen = new Map<string, { source: string; message: string; count: number }>();

  /** How an error becomes its line; replaced once the RingCX error types are loaded. */
  describe: (error: unknown) => string = oneLine;

  constructor(private readonly print: (line: string) => void) {}

  add(source: string, error: unknown): void {
    const message = this.describe(error);
    const entry = this.seen.get(message);
    if (entry) {
      entry.count += 1;
      return;
    }
    this.seen.set(message, { source, message, count: 1 });
    this.print(`error in ${source}: ${message}`);
  }

  get size(): number {
    return this.seen.size;
  }

  lines(): string[] {
    return [...this.seen.values()].map((e) => `  ${e.source}: ${e.message}${e.count > 1 ? ` (${e.count} times)` : ''}`);
  }
}

/** The first line of an error's message, bounded; never the stack. */
export function oneLine(error: unknown): string {
  const raw = error instanceof Error ? error.message || error.name : typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  const first = raw.split(/\r?\n/).find((line) => line.trim() !== '') ?? raw;
  return first.length > 300 ? `${first.slice(0, 297)}...` : first;
}
