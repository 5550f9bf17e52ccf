import { Readable } from 'node:stream';
import { parse } from 'csv-parse';

/** The file as a whole cannot be used; nothing from it should be applied. */
export class CsvFileError extends Error {
  override readonly name = 'CsvFileError';
  constructor(
    readonly reason: string,
    readonly line?: number,
  ) {
    super(line ? `line ${line}: ${reason}` : reason);
  }
}

export interface CsvRecord {
  /** Physical line the record starts on, as an editor shows it (header = 1). */
  line: number;
  cells: string[];
}

export interface ReadCsvOptions {
  /** A single record longer than this ends the read: no phone-number row is that long. */
  maxRecordChars?: number;
}

/**
 * Decodes UTF-8 strictly (a spreadsheet saved as .xlsx, UTF-16 or binary junk fails here rather
 * than turning into rows of replacement characters) and drops a leading BOM.
 */
async function* decodeUtf8(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let first = true;
  for await (const chunk of body) {
    let text: string;
    try {
      text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    } catch {
      throw new CsvFileError('the file is not UTF-8 text; it may be a spreadsheet (.xlsx), UTF-16 text or binary data. Save it as "CSV UTF-8"');
    }
    if (text.includes('\u0000')) {
      throw new CsvFileError('the file contains binary data (NUL bytes); it is not a CSV text file');
    }
    if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    first = false;
    if (text.length > 0) yield text;
  }
  try {
    const rest = decoder.decode();
    if (rest) yield rest;
  } catch {
    throw new CsvFileError('the file ends in the middle of a UTF-8 character');
  }
}

/**
 * Streams RFC 4180 records with their physical line numbers. Blank lines are skipped but counted,
 * and a record whose quoted field spans lines is numbered by the line it starts on. Memory stays
 * flat: one record at a time, whatever the file size.
 */
export async function* readCsvRecords(
  body: AsyncIterable<Uint8Array | string>,
  options: ReadCsvOptions = {},
): AsyncGenerator<CsvRecord> {
  const maxRecordChars = options.maxRecordChars ?? 64 * 1024;
  const parser = parse({
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: false,
    record_delimiter: ['\r\n', '\n'],
    max_record_size: maxRecordChars,
  });
  const source = Readable.from(decodeUtf8(body));
  source.on('error', (error) => parser.destroy(error));
  source.pipe(parser);
  let line = 1;
  try {
    for await (const cells of parser as AsyncIterable<string[]>) {
      const start = line;
      line += 1;
      for (const cell of cells) {
        for (let at = cell.indexOf('\n'); at !== -1; at = cell.indexOf('\n', at + 1)) line += 1;
      }
      if (cells.every((cell) => cell.trim() === '')) continue;
      yield { line: start, cells };
    }
  } catch (error) {
    if (error instanceof CsvFileError) throw error;
    const code = (error as { code?: string }).code;
    if (code === 'CSV_QUOTE_NOT_CLOSED') {
      throw new CsvFileError('a quoted field is never closed; check for a stray double quote', line);
    }
    if (code === 'CSV_MAX_RECORD_SIZE') {
      throw new CsvFileError(`a record is longer than ${maxRecordChars} characters; no phone-number row is that long`, line);
    }
    throw new CsvFileError(`the file could not be read as CSV (${(error as Error).message.split('\n')[0]})`, line);
  } finally {
    source.destroy();
  }
}
