import type { JobSummary } from '../../shared/jobs/reports';
import type { JobMeta } from '../../shared/store/jobStore';

/** One line of a running job's progress, as `npm start` redraws it. */
export function progressLine(job: JobMeta): string {
  if (job.status === 'parsing') return 'parsing...';
  if (job.status === 'failed') return `file refused: ${job.fileError}`;
  const done = job.processed + job.rejected;
  const total = job.total || 1;
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${job.total} rows  ${job.apiCalls} RingCX calls`;
}

export function summaryTable(summary: JobSummary): string {
  const rows = Object.entries(summary.outcomes);
  const width = Math.max(7, ...rows.map(([name]) => name.length));
  const lines = [
    `${summary.source.key}: ${summary.status}${summary.fileError ? ` (${summary.fileError})` : ''}`,
    `  ${'outcome'.padEnd(width)}  rows`,
    ...rows.map(([name, count]) => `  ${name.padEnd(width)}  ${String(count).padStart(4)}`),
    `  ${'total'.padEnd(width)}  ${String(summary.rows.total).padStart(4)}   (${summary.apiCalls} RingCX calls, ${(summary.durationMs / 1000).toFixed(1)} s)`,
  ];
  return lines.join('\n');
}
