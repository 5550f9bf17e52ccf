import type { RowMessage } from '../../shared/contracts';

/** A valid work-queue row message for `line` (an unassigned number, plain upsert), for unit tests. */
export const rowMessage = (line: number, overrides: Partial<RowMessage> = {}): RowMessage => ({
  v: 1,
  kind: 'row',
  jobId: 'job-1',
  line,
  mode: 'apply',
  row: { dnis: `1212555010${line}`, e164: `+1212555010${line}`, accountId: '1', category: 'VOICE', active: true, target: null, assignmentActive: true, onConflict: 'fail', action: 'upsert' },
  raw: [],
  ...overrides,
});
