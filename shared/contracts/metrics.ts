import type { Outcome } from './outcomes';

/**
 * The CloudWatch metrics the functions emit and the dashboard and alarms (infra/) read. Both sides
 * import these names, so a renamed metric is a compile error or a failing test, never an alarm
 * that silently watches nothing. test/unit/observability/emittedMetrics.test.ts checks that the
 * handlers really emit them.
 */
export const METRICS_NAMESPACE = 'DnisSync';

/**
 * Each function's Powertools service name: the `service` dimension of its metrics and the
 * `service` field of its log lines. Alarms select a function's metrics by it.
 */
export const SERVICE_NAMES = {
  parser: 'dnis-sync-parser',
  worker: 'dnis-sync-worker',
  intake: 'dnis-sync-reassignintake',
  exporter: 'dnis-sync-exporter',
  refresher: 'dnis-sync-tokenrefresher',
  sweeper: 'dnis-sync-sweeper',
} as const;
export type FunctionName = keyof typeof SERVICE_NAMES;

export const METRIC_NAMES = {
  /** RingCX HTTP attempts, per unit of work (a batch, a job, an export). */
  ringCxCalls: 'RingCxCalls',
  ringCx429: 'RingCx429',
  ringCxRetries: 'RingCxRetries',
  /** The same calls with `endpoint` and `status` dimensions. */
  ringCxCallsByEndpoint: 'RingCxCallsByEndpoint',
  /** Work-queue messages that are not a row message the worker can read. */
  unreadableMessages: 'UnreadableMessages',
  /** Rows handed on unstarted because the invocation was about to end. */
  rowsDeferred: 'RowsDeferred',
  /** How long a number was unrouted between an unassign and its new assignment. */
  unroutedGapMs: 'UnroutedGapMs',
  reassignmentsHeld: 'ReassignmentsHeld',
  reassigned: 'Reassigned',
  reassignmentsFailed: 'ReassignmentsFailed',
  /** The sweeper's view of open jobs: its two alarms read the first two. */
  oldestOpenJobAgeSeconds: 'OldestOpenJobAgeSeconds',
  stalledJobs: 'StalledJobs',
  rowsSettledBySweeper: 'RowsSettledBySweeper',
  /** The refresher ran while the secret still held the placeholder. */
  credentialsMissing: 'CredentialsMissing',
} as const;

/** Rows that reached an outcome, one metric per outcome: the dashboard's "Rows by outcome". */
export function rowsMetricName(outcome: Outcome): `Rows_${Outcome}` {
  return `Rows_${outcome}`;
}
