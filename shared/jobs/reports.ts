import type { S3Client } from '@aws-sdk/client-s3';
import { DETAIL_TYPES } from '../contracts';
import { canonicalHeaderName, stripNeutraliser, suggestColumns } from '../csv/columns';
import { csvLine } from '../csv/writer';
import { OUTCOMES, planLabel } from '../domain/desiredRow';
import type { EventPublisher } from '../aws/events';
import { uploadLines } from '../aws/s3Text';
import type { JobMeta, JobStore, RowOutcome } from '../store/jobStore';

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
  /**
   * One line each, ready to print on a console: header cells that match no column, with the
   * column they were probably meant to be (`column "target typ" is ignored; did you mean target_type?`).
   */
  warnings: string[];
  startedAt: string;
  completedAt: string;
  durationMs: number;
  reports: { results: string; failed: string; summary: string; plan?: string };
  /** A plan run: the saved plan it wrote. An apply of a plan: the plan it applied. */
  planId?: string;
  /** An apply of a plan: who approved it, and why. */
  approval?: { approvedBy: string; reason: string };
}

/** The event a job's completion sends: an apply of a saved plan has its own. */

const isPlanApply = (job: JobMeta) => job.mode === 'apply' && job.source.key.startsWith('approved/');

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
  const failedLayout = failedCsvLayout(job.header ?? []);
  async function* failed() {
    if (job.header?.length) yield csvLine(failedLayout.header);
    for await (const row of store.rows(job.jobId)) {
      if (row.outcome === 'failed' || row.outcome === 'rejected') yield csvLine(failedLayout.row(row.raw, row.detail));
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
    warnings: columnWarnings(job),
    startedAt: job.startedAt,
    completedAt,
    durationMs: Date.parse(completedAt) - Date.parse(job.startedAt),
    reports: job.mode === 'plan' && job.planId ? { ...keys, plan: `${job.resultsPrefix}/plan.json` } : keys,
    ...(job.planId ? { planId: job.planId } : {}),
    ...(job.approval ? { approval: job.approval } : {}),
  };
  await uploadLines(deps.s3, { bucket: deps.bucket, key: keys.summary, contentType: 'application/json' }, [`${JSON.stringify(summary, null, 2)}\n`]);
  await deps.events.publish(isPlanApply(job) ? DETAIL_TYPES.planApplied : DETAIL_TYPES.importCompleted, { ...summary });
  return summary;
}

export const FAILED_REASON_COLUMN = 'error';

/**
 * failed.csv is the input file's header and rows plus a trailing `error` column with each row's
 * reason. The importer ignores that column, so the file goes back in once fixed. A failed.csv
 * that already has one (a second round) gets its reasons replaced, not a second column.
 */
export function failedCsvLayout(header: string[]): { header: string[]; row: (raw: string[], reason: string) => string[] } {
  const existing = header.findIndex((cell) => canonicalHeaderName(stripNeutraliser(cell.trim())) === FAILED_REASON_COLUMN);
  if (existing !== -1) {
    return {
      header,
      row: (raw, reason) => {
        const cells = padTo(raw, header.length);
        cells[existing] = reason;
        return cells;
      },
    };
  }
  return { header: [...header, FAILED_REASON_COLUMN], row: (raw, reason) => [...padTo(raw, header.length), reason] };
}

/** Short rows are padded so the reason lands under its header; long rows keep every cell. */
function padTo(cells: string[], width: number): string[] {
  return cells.length >= width ? [...cells] : [...cells, ...Array<string>(width - cells.length).fill('')];
}

function columnWarnings(job: JobMeta): string[] {
  const ignored = job.ignoredColumns ?? [];
  if (ignored.length === 0) return [];
  const suggestions = new Map(suggestColumns(job.header ?? []).map((s) => [s.column, s.suggestion]));
  return ignored.map((column) => {
    const suggestion = suggestions.get(column);
    return suggestion
      ? `column "${column}" is not a known column and was ignored; did you mean ${suggestion}?`
      : `column "${column}" is not a known column and was ignored`;
  });
}
