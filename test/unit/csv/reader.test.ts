import { describe, expect, it } from 'vitest';
import { CsvFileError, readCsvRecords } from '../../../shared/csv/reader';

async function records(input: string | Buffer, chunkSize = 7) {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  // Small chunks: line counting and UTF-8 decoding must not depend on where chunks split.
  const chunks = async function* () {
    for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
  };
  const out: { line: number; cells: string[] }[] = [];
  for await (const record of readCsvRecords(chunks())) out.push(record);
  return out;
}

describe('readCsvRecords', () => {
  it('numbers records by the physical line they start on', async () => {
    const out = await records('h1,h2\r\na,1\r\n\r\nb,"x\r\ny"\nc,3\n\n\nd,"p\nq\nr"\ne,5');
    expect(out.map((r) => [r.line, r.cells[0]])).toEqual([
      [1, 'h1'],
      [2, 'a'],
      [4, 'b'],
      [6, 'c'],
      [9, 'd'],
      [12, 'e'],
    ]);
  });

  it('drops a BOM and decodes multi-byte characters split across chunks', async () => {
    const out = await records(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('dnis,d\n1,Zürich 東京\n')]), 3);
    expect(out[0]?.cells[0]).toBe('dnis');
    expect(out[1]?.cells[1]).toBe('Zürich 東京');
  });

  it('refuses bytes that are not UTF-8, and NUL bytes', async () => {
    await expect(records(Buffer.from([0x61, 0x2c, 0xe9, 0x0a]))).rejects.toThrow(CsvFileError);
    await expect(records(Buffer.from('a,b\u0000\n'))).rejects.toThrow(/binary data/);
  });

  it('names the line of an unclosed quote', async () => {
    const error = await records('h\n"ok"\n"open\nmore\n').catch((e: CsvFileError) => e);
    expect(error).toBeInstanceOf(CsvFileError);
    expect((error as CsvFileError).message).toMatch(/never closed/);
  });

  it('keeps memory flat: records are yielded before the input ends', async () => {
    let produced = 0;
    async function* endless() {
      yield Buffer.from('h\n');
      for (;;) {
        produced += 1;
        yield Buffer.from('1\n'.repeat(100));
      }
    }
    let seen = 0;
    for await (const _ of readCsvRecords(endless())) {
      if (++seen > 1_000) break;
    }
    expect(produced).toBeLessThan(200);
  });
});
