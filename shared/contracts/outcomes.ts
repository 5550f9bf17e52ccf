/** What became of one row or request; reports, events and the Rows_<outcome> metrics use these words. */
export const OUTCOMES = [
  'created',
  'updated',
  'assigned',
  'reassigned',
  'unassigned',
  'unchanged',
  'conflict',
  'skipped',
  'rejected',
  'failed',
  /** A saved plan's row whose RingCX state changed since the plan: nothing was written. */
  'stale',
] as const;
export type Outcome = (typeof OUTCOMES)[number];
