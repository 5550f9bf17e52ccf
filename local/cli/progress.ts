/**
 * Progress for a terminal (one bar redrawn in place with \r) or for a log file / pipe (a plain
 * line when something changed, at most every `intervalMs`, so a CI log gets a few readable lines
 * instead of one line with hundreds of carriage returns).
 */
export class ProgressPrinter {
  private lastLine = '';
  private lastPrintedLine = '';
  private lastPrintedAt = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly out: { write(text: string): unknown; isTTY?: boolean } = process.stdout,
    private readonly intervalMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  update(line: string): void {
    this.lastLine = line;
    if (this.out.isTTY) {
      this.out.write(`\r${line}\x1b[K`);
      this.drawn = true;
      return;
    }
    if (line === this.lastPrintedLine || this.now() - this.lastPrintedAt < this.intervalMs) return;
    this.print(line);
  }

  /** Ends the bar: the terminal's cursor moves on; a log gets the final state if it was not printed yet. */
  finish(): void {
    if (this.out.isTTY) {
      if (this.drawn) this.out.write('\n');
    } else if (this.lastLine !== '' && this.lastLine !== this.lastPrintedLine) {
      this.print(this.lastLine);
    }
    this.drawn = false;
    this.lastLine = '';
    this.lastPrintedLine = '';
    this.lastPrintedAt = Number.NEGATIVE_INFINITY;
  }

  /** Before printing anything else on a terminal, so it does not land in the middle of the bar. */
  clearLine(): void {
    if (this.out.isTTY && this.drawn) {
      this.out.write('\r\x1b[K');
      this.drawn = false;
    }
  }

  private print(line: string): void {
    this.out.write(`${line}\n`);
    this.lastPrintedLine = line;
    this.lastPrintedAt = this.now();
  }
}
