import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BLOCK = 256 * 1024;

/**
 * What the parser keeps for each row until the whole file has proved usable: the message to send,
 * by its cost class (`cheap` to the bulk queue, `costly` to the work queue), or the rejection to record.
 */
export type SpooledRow = { kind: 'cheap' | 'costly'; body: string } | { kind: 'rejection'; body: string };

/** Each spooled line starts with its kind, so the kinds share one file in row order. */
const KIND_TAGS = { cheap: 'cheap:', costly: 'costly:', rejection: 'rejection:' } as const;

/**
 * A file of newline-delimited records in the function's ephemeral storage. The parser validates
 * the whole upload into it and only then sends, so a file that turns out to be broken at row
 * 900,000 has sent nothing, without reading S3 twice or holding rows in memory.
 *
 * Bodies must be ASCII without newlines (escaped JSON is): the spool writes and splits raw bytes
 * in large blocks, which is several times faster than a UTF-8 line reader.
 */
export class Spool {
  readonly path = join(tmpdir(), `dnis-sync-${randomUUID()}.ndjson`);
  private readonly out: WriteStream = createWriteStream(this.path);
  private pending = '';

  /**
   * Returns a promise only when the disk is behind and the caller must wait: a promise per row
   * would cost more than the row's own parsing.
   */
  write(row: SpooledRow): Promise<void> | undefined {
    this.pending += `${KIND_TAGS[row.kind]}${row.body}\n`;
    if (this.pending.length < BLOCK) return undefined;
    return this.flushBlock();
  }

  private flushBlock(): Promise<void> | undefined {
    const block = this.pending;
    this.pending = '';
    if (this.out.write(block, 'latin1')) return undefined;
    return new Promise<void>((resolve) => this.out.once('drain', () => resolve()));
  }

  async close(): Promise<void> {
    await this.flushBlock();
    await new Promise<void>((resolve, reject) => this.out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }

  async *read(): AsyncGenerator<SpooledRow> {
    for await (const line of this.lines()) yield spooledRow(line);
  }

  private async *lines(): AsyncGenerator<string> {
    let carry = '';
    for await (const chunk of createReadStream(this.path, { highWaterMark: BLOCK })) {
      const text = carry + (chunk as Buffer).toString('latin1');
      let start = 0;
      for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
        if (end > start) yield text.slice(start, end);
        start = end + 1;
      }
      carry = text.slice(start);
    }
    if (carry) yield carry;
  }

  async dispose(): Promise<void> {
    this.out.destroy();
    await rm(this.path, { force: true });
  }
}

function spooledRow(line: string): SpooledRow {
  for (const kind of ['cheap', 'costly', 'rejection'] as const) {
    if (line.startsWith(KIND_TAGS[kind])) return { kind, body: line.slice(KIND_TAGS[kind].length) };
  }
  throw new Error('spool line of no known kind');
}
