import { createHash } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { type HeaderMap, readHeader } from '../csv/columns';
import { NumberLineIndex } from '../csv/numberIndex';
import { CsvFileError, readCsvRecords } from '../csv/reader';
import { validateRow } from '../csv/validateRow';
import { encodeMessageBody, type Mode, type ObjectVersion, type RowMessage, rowCostClass, rowsMetricName } from '../contracts';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../observability/powertools';
import { RowQueueSender } from './rowQueues';
import { Spool } from './spool';
import { APPROVAL_PREFIX, applyApprovedPlan } from './applyPlan';
import { completeIfDone, refuseFile } from '../jobs/completion';
import type { JobMeta, RowOutcome } from '../store/jobStore';
import type { ParserDependencies as Dependencies } from '../dependencies';
import { type IngestResult, jobIdFor, modeOf, type ObjectRef, safeRelativePath } from './uploadedObject';

/**
 * The parser's whole job for one uploaded object. One streaming read validates every row into a
 * spool file; only when the whole file has proved usable (UTF-8 text, a header with a dnis column,
 * well-formed CSV, within the limits) is anything sent. Memory stays flat apart from the duplicate
 * index (about 24 bytes per number).
 */
export async function ingestObject(rt: Dependencies, ref: ObjectRef): Promise<IngestResult> {
  if (ref.key.startsWith(APPROVAL_PREFIX)) return applyApprovedPlan(rt, ref);
  const placement = modeOf(ref.key);
  if (!placement) return { status: 'ignored', reason: `key ${ref.key} is outside incoming/, plan/ and approved/` };
  const { config, store } = rt;
  const jobId = jobIdFor(ref);
  const resultsPrefix = `results/${safeRelativePath(placement.relative.replace(/\.csv$/i, ''))}/${jobId}`;
  const source = { bucket: ref.bucket, key: ref.key, versionId: ref.versionId, etag: ref.etag };
  const claim = await store.claimJob({ jobId, mode: placement.mode, source, resultsPrefix }, config.PARSE_LEASE_SECONDS * 1000);
  if (claim === 'duplicate') {
    logger.info('duplicate notification for an object version that already has a job', { jobId, key: ref.key });
    return { status: 'duplicate', jobId };
  }
  // A takeover re-runs a parse that died after sending some rows: the rows go out again, and
  // workers drop the ones that already have an outcome.
  logger.info(claim === 'taken-over' ? 'unfinished parse taken over' : 'job started', { jobId, key: ref.key, mode: placement.mode });
  try {
    return await runJob(rt, ref, jobId, placement.mode);
  } catch (error) {
    await store.releaseJob(jobId);
    throw error;
  }
}

async function runJob(rt: Dependencies, ref: ObjectRef, jobId: string, mode: Mode): Promise<IngestResult> {
  const { config, store } = rt;
  const spool = new Spool();
  try {
    let counts: Awaited<ReturnType<typeof validateIntoSpool>>;
    const started = performance.now();
    try {
      counts = await validateIntoSpool(rt, ref, jobId, mode, spool);
    } catch (error) {
      if (!(error instanceof CsvFileError)) throw error;
      return await failWholeFile(rt, jobId, error.message, (error as CsvFileError & { header?: string[] }).header);
    }
    const validated = performance.now();
    await sendSpooled(rt, jobId, spool);
    const timings = { validateMs: Math.round(validated - started), sendMs: Math.round(performance.now() - validated) };
    await store.finishParsing(jobId, counts);
    // The dashboard's "rows by outcome" shows rejected rows from here: they never reach a worker.
    // After finishParsing, which succeeds once per job, so a taken-over parse does not count twice.
    metrics.addMetric(rowsMetricName('rejected'), MetricUnit.Count, counts.rejected);
    logger.info('job parsed', { jobId, total: counts.total, accepted: counts.accepted, rejected: counts.rejected, ...timings });
    // Every row may already have landed (a small file, or a re-run parse).
    await completeIfDone(rt, jobId);
    return { status: 'accepted', jobId, total: counts.total, accepted: counts.accepted, rejected: counts.rejected, timings };
  } finally {
    await spool.dispose();
  }
}

/**
 * The sweeper's recovery of a parse that died (crash, timeout) before it finished: the same object
 * version is parsed again under the same job, once the dead parser's lease has run out.
 */
export async function reparseJob(rt: Dependencies, job: Pick<JobMeta, 'source'>): Promise<IngestResult> {
  return ingestObject(rt, { bucket: job.source.bucket, key: job.source.key, versionId: job.source.versionId, etag: job.source.etag });
}

async function openBody(rt: Dependencies, ref: ObjectRef) {
  const response = await rt.aws.s3
    .send(
    new GetObjectCommand({
      Bucket: ref.bucket,
      Key: ref.key,
      // Read the version the notification is about, not whatever was uploaded since.
      ...(ref.versionId ? { VersionId: ref.versionId } : ref.etag ? { IfMatch: `"${ref.etag.replace(/"/g, '')}"` } : {}),
    }),
    )
    .catch((error: unknown) => {
      // Deleted (or overwritten, without versioning) before it could be read: a verdict, not a retry.
      const name = (error as Error).name;
      if (name === 'NoSuchKey' || name === 'NoSuchVersion' || name === 'PreconditionFailed') throw new CsvFileError('the uploaded object no longer exists as it was uploaded');
      throw error;
    });
  const body = response.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
  if (!body) throw new CsvFileError('the object has no body');
  return { body, size: response.ContentLength ?? ref.size ?? 0 };
}

function tooLarge(size: number, max: number) {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  return new CsvFileError(`the file is ${mb(size)}; the limit is ${mb(max)}. Split it into smaller files`);
}

async function failWholeFile(rt: Dependencies, jobId: string, reason: string, header: string[] | undefined): Promise<IngestResult> {
  logger.warn('file refused', { jobId, reason });
  await refuseFile(rt, jobId, reason, header);
  return { status: 'failed', jobId, reason };
}

/**
 * Reads the file once: validates, de-duplicates and spools each row's message (or rejection).
 * Anything that makes the file unusable as a whole throws CsvFileError before a row is sent.
 */
async function validateIntoSpool(rt: Dependencies, ref: ObjectRef, jobId: string, mode: Mode, spool: Spool) {
  const { config } = rt;
  const { MAX_FILE_BYTES, MAX_ROWS } = config;
  if (ref.size !== undefined && ref.size > MAX_FILE_BYTES) throw tooLarge(ref.size, MAX_FILE_BYTES);
  const { body, size } = await openBody(rt, ref);
  if (size > MAX_FILE_BYTES) {
    body.destroy?.();
    throw tooLarge(size, MAX_FILE_BYTES);
  }
  // The bytes as read are what a saved plan names (its source's SHA-256).
  const hash = createHash('sha256');
  const seen = new NumberLineIndex();
  const rules = { defaultRegion: config.DEFAULT_REGION, validation: config.NUMBER_VALIDATION, defaultAccountId: config.RINGCX_DEFAULT_ACCOUNT_ID };
  let header: HeaderMap | undefined;
  let headerCells: string[] = [];
  let total = 0;
  let accepted = 0;
  let rejected = 0;
  const reject = (outcome: RowOutcome) => {
    rejected += 1;
    return spool.write({ kind: 'rejection', body: encodeMessageBody(outcome) });
  };
  try {
    for await (const record of readCsvRecords(hashing(body, hash))) {
      if (!header) {
        const read = readHeader(record.cells);
        if (!read.ok) throw new CsvFileError(read.reason, record.line);
        header = read.header;
        headerCells = record.cells;
        continue;
      }
      total += 1;
      if (total > MAX_ROWS) throw new CsvFileError(`the file has more than ${MAX_ROWS.toLocaleString('en-US')} rows; split it into smaller files`);
      const result = validateRow(record.cells, header, rules);
      if (!result.ok) {
        const wait = reject({ line: record.line, dnis: (record.cells[header.index.dnis ?? 0] ?? '').trim(), outcome: 'rejected', detail: result.reason, target: '', raw: record.cells });
        if (wait) await wait;
        continue;
      }
      const firstLine = seen.claim(result.row.dnis, record.line);
      if (firstLine !== 0) {
        const wait = reject({ line: record.line, dnis: result.row.dnis, outcome: 'rejected', detail: `duplicate of line ${firstLine}`, target: '', raw: record.cells });
        if (wait) await wait;
        continue;
      }
      accepted += 1;
      const message: RowMessage = { v: 1, kind: 'row', jobId, line: record.line, mode, row: result.row, raw: record.cells };
      const wait = spool.write({ kind: rowCostClass(message), body: encodeMessageBody(message) });
      if (wait) await wait;
    }
  } catch (error) {
    if (error instanceof CsvFileError) Object.assign(error, { header: headerCells });
    throw error;
  }
  await spool.close();
  if (!header) throw new CsvFileError('the file is empty');
  if (total === 0) throw Object.assign(new CsvFileError('the file has a header but no rows'), { header: headerCells });
  return { total, accepted, rejected, header: headerCells, ignoredColumns: header.ignored, sha256: hash.digest('hex') };
}

async function* hashing(body: AsyncIterable<Uint8Array | string>, hash: ReturnType<typeof createHash>): AsyncGenerator<Uint8Array | string> {
  for await (const chunk of body) {
    hash.update(chunk);
    yield chunk;
  }
}

/** The file is good: rejections to the job table, messages to the row queue of their cost class. */
async function sendSpooled(rt: Dependencies, jobId: string, spool: Spool): Promise<void> {
  const sender = new RowQueueSender(rt);
  let rejects: RowOutcome[] = [];
  for await (const row of spool.read()) {
    if (row.kind !== 'rejection') {
      await sender.send(row.kind, row.body);
    } else {
      rejects.push(JSON.parse(row.body) as RowOutcome);
      if (rejects.length >= 100) {
        await rt.store.putRejected(jobId, rejects);
        rejects = [];
      }
    }
  }
  await sender.flush();
  if (rejects.length > 0) await rt.store.putRejected(jobId, rejects);
}
