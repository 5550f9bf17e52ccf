import type { S3Client } from '@aws-sdk/client-s3';
import { csvLine } from '../csv/writer';
import { OUTCOMES, planLabel } from '../domain/desiredRow';
import type { EventPublisher } from '../aws/events';
import { uploadLines } from '../aws/s3Text';
import type { JobMeta, JobStore, RowOutcome } from './store';

export const RESULTS_HEADER = ['line', 'dnis', 'outcome', 'target', 'detail'];

export interface JobSummary {
  jobId: string;
  mode: JobMeta['mode'];
  status: 'completed' | 'failed';
  source: JobMeta['source'];
  fileError?: string;
  rows: { total: number; accepted: number; rejected: number };
  outcomes: Record<string, number>;
  apiCalls: number;
  apiCallsPerAcceptedRow: number | null;
  ignoredColumns: string[];
  startedAt: string;
  completedAt: string;
  durationMs: number;
  reports: { results: string; failed: string; summary: string };
}

export function reportKeys(job: Pick<JobMeta, 'resultsPrefix'>) {
  return {
    results: `${job.resultsPrefix}/results.csv`,
    failed: `${job.resultsPrefix}/failed.csv`,
    summary: `${job.resultsPrefix}/summary.json`,
  };
}

const label = (job: JobMeta, outcome: RowOutcome['outcome']) => (job.mode === 'plan' ? planLabel(outcome) : outcome);

/**
 * results.csv (every row, in line order), failed.csv (failed and rejected rows as they came in,
 * under the original header, ready to fix and upload again) and summary.json; then the
 * "DNIS Import Completed" event. Re-running it rewrites the same three objects.
 */
export async function writeJobReports(deps: { s3: S3Client; store: JobStore; events: EventPublisher; bucket: string }, job: JobMeta): Promise<JobSummary> {
  const keys = reportKeys(job);
  const { store } = deps;
  const fileLevel = job.status === 'failed' ? job.fileError : undefined;

  async function* results() {
    yield csvLine(RESULTS_HEADER);
    if (fileLevel) yield csvLine(['', '', 'rejected', '', `the whole file was refused: ${fileLevel}`]);
    for await (const row of store.rows(job.jobId)) {
      yield csvLine([row.line, row.dnis, label(job, row.outcome), row.target, row.detail]);
    }
  }
  async function* failed() {
    if (job.header?.length) yield csvLine(job.header);
    for await (const row of store.rows(job.jobId)) {
      if (row.outcome === 'failed' || row.outcome === 'rejected') yield csvLine(row.raw);
    }
  }

  await uploadLines(deps.s3, { bucket: deps.bucket, key: keys.results, contentType: 'text/csv; charset=utf-8' }, results());
  await uploadLines(deps.s3, { bucket: deps.bucket, key: keys.failed, contentType: 'text/csv; charset=utf-8' }, failed());

  const completedAt = job.completedAt ?? new Date().toISOString();
  const outcomes: Record<string, number> = {};
  for (const outcome of OUTCOMES) {
    const count = job.counts?.[outcome] ?? 0;
    if (count > 0) outcomes[label(job, outcome)] = count;
  }
  const summary: JobSummary = {
    jobId: job.jobId,
    mode: job.mode,
    status: fileLevel ? 'failed' : 'completed',
    source: job.source,
    ...(fileLevel ? { fileError: fileLevel } : {}),
    rows: { total: job.total, accepted: job.accepted, rejected: job.rejected },
    outcomes,
    apiCalls: job.apiCalls,
    apiCallsPerAcceptedRow: job.accepted > 0 ? Number((job.apiCalls / job.accepted).toFixed(3)) : null,
    ignoredColumns: job.ignoredColumns ?? [],
    startedAt: job.startedAt,
    completedAt,
    durationMs: Date.parse(completedAt) - Date.parse(job.startedAt),
    reports: keys,
  };
  await uploadLines(deps.s3, { bucket: deps.bucket, key: keys.summary, contentType: 'application/json' }, [`${JSON.stringify(summary, null, 2)}\n`]);
  await deps.events.publish('DNIS Import Completed', { ...summary });
  return summary;
}
