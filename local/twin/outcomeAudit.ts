import type { StateEvent } from '../ringcx-simulator/state';

export interface ReportedRow {
  line: number;
  dnis: string;
  outcome: string;
}

type WriteKind = StateEvent['kind'];

/**
 * What a row's label claims this job did, as writes the simulator must (or must not) have seen for
 * its number. `failed` says nothing either way: a failure after a partial change is reported as a
 * failure whose detail names what was done.
 */
const CLAIMS: Record<string, ((kinds: WriteKind[]) => boolean) | undefined> = {
  created: (kinds) => kinds.includes('create'),
  assigned: (kinds) => kinds.includes('assign') && !kinds.includes('create'),
  reassigned: (kinds) => kinds.includes('move') || (kinds.includes('unassign') && kinds.includes('assign')),
  unassigned: (kinds) => kinds.includes('unassign'),
  updated: (kinds) => kinds.includes('update') || kinds.includes('assign'),
  unchanged: (kinds) => kinds.length === 0,
  conflict: (kinds) => kinds.length === 0,
  skipped: (kinds) => kinds.length === 0,
  stale: (kinds) => kinds.length === 0,
};

/**
 * Rows whose outcome label disagrees with the simulator's log of writes since `since`: a row
 * reported `unchanged` whose number this job created, a `reassigned` row with no move, and so on.
 * Assumes the job is the only writer of its numbers in that time, as in the chaos run.
 */
export function outcomeMismatches(rows: readonly ReportedRow[], events: readonly StateEvent[], since: number): string[] {
  const writes = new Map<string, WriteKind[]>();
  for (const event of events) {
    // A create refused as a duplicate changed nothing.
    if (event.at < since || event.kind === 'duplicate-create') continue;
    const kinds = writes.get(event.dnis) ?? [];
    kinds.push(event.kind);
    writes.set(event.dnis, kinds);
  }
  const wrong: string[] = [];
  for (const row of rows) {
    const claim = CLAIMS[row.outcome];
    if (!claim) continue;
    const kinds = writes.get(row.dnis) ?? [];
    if (!claim(kinds)) wrong.push(`line ${row.line} ${row.dnis}: reported ${row.outcome}, the simulator saw [${kinds.join(', ')}]`);
  }
  return wrong;
}
