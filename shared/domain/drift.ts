import { describeTarget, type Target } from './desiredRow';
import { sameTarget } from './planner';

/*
 * Drift: how RingCX differs from the desired state the ledger holds. The rules are here, as data;
 * writing the findings (the export's drift CSV) is the exporter's business.
 */

export const DRIFT_KINDS = ['missing', 'assigned-elsewhere', 'unassigned', 'description-mismatch', 'active-mismatch', 'not-applied', 'undeclared'] as const;
export type DriftKind = (typeof DRIFT_KINDS)[number];

/** Kinds that call for someone to act; the others are informational. */
const ACTIONABLE: readonly DriftKind[] = ['missing', 'assigned-elsewhere', 'unassigned', 'description-mismatch', 'active-mismatch'];

export interface DriftFinding {
  dnis: string;
  kind: DriftKind;
  desired: string;
  actual: string;
  detail: string;
  /** The file (job) and line that declared what is desired; absent for an undeclared number. */
  declaredByJob?: string;
  declaredOnLine?: number;
}

/** A file row that named the number but changed nothing, so nothing about it is desired yet. */
export interface Declaration {
  jobId: string;
  line: number;
  outcome: string;
}

/** The last desired state applied for a number (the ledger's fields that drift compares). */
export interface AppliedState {
  dnis: string;
  jobId: string;
  line: number;
  /** Present once some row or event declared routing; null means "should be unassigned". */
  target?: Target | null;
  description?: string;
  active?: boolean;
}

/** What the ledger holds for a number: an applied state (maybe declared again since), or only a declaration. */
export type LedgerView = (AppliedState & { declared?: Declaration }) | { dnis: string; declared: Declaration; jobId?: undefined };

/** The number's pool record as RingCX holds it, the fields drift compares. */
export interface PoolView {
  dnisDescription?: string | null;
  active?: boolean | null;
}

const isApplied = (item: LedgerView): item is AppliedState & { declared?: Declaration } => item.jobId !== undefined;

export function emptyDriftCounts(): Record<DriftKind, number> {
  return Object.fromEntries(DRIFT_KINDS.map((kind) => [kind, 0])) as Record<DriftKind, number>;
}

export function actionableDrift(counts: Record<DriftKind, number>): number {
  return ACTIONABLE.reduce((n, kind) => n + counts[kind], 0);
}

/** A number in RingCX, routed to `actual`, against what the ledger holds for it (if anything). */
export function driftOf(dnis: string, pool: PoolView, actual: Target | null, item: LedgerView | undefined): DriftFinding[] {
  const actualText = actual ? describeTarget(actual) : 'unassigned';
  if (!item) return [{ dnis, kind: 'undeclared', desired: '', actual: actualText, detail: 'in RingCX but no file or event ever declared it (informational)' }];
  if (!isApplied(item)) return [notApplied(dnis, item.declared, actualText)];
  const findings: DriftFinding[] = [];
  const add = (kind: DriftKind, desired: string, actualValue: string, detail: string) =>
    findings.push({ dnis, kind, desired, actual: actualValue, detail, declaredByJob: item.jobId, declaredOnLine: item.line });
  if (item.target) {
    if (!actual) add('unassigned', describeTarget(item.target), 'unassigned', 'should be assigned');
    else if (!sameTarget(actual, item.target)) add('assigned-elsewhere', describeTarget(item.target), describeTarget(actual), 'routes somewhere other than declared');
  } else if (item.target === null && actual) {
    add('assigned-elsewhere', 'unassigned', describeTarget(actual), 'declared unassigned but routes calls');
  }
  if (item.description !== undefined && item.description !== (pool.dnisDescription ?? '')) {
    add('description-mismatch', item.description, pool.dnisDescription ?? '', 'pool description differs');
  }
  if (item.active !== undefined && pool.active !== undefined && pool.active !== null && item.active !== pool.active) {
    add('active-mismatch', String(item.active), String(pool.active), 'pool active flag differs');
  }
  return findings;
}

/** A number the ledger holds that RingCX's pool does not (only meaningful after a complete export). */
export function driftOfAbsent(item: LedgerView): DriftFinding {
  if (!isApplied(item)) return notApplied(item.dnis, item.declared, 'not in RingCX');
  return { dnis: item.dnis, kind: 'missing', desired: describeDesired(item), actual: 'not in RingCX', detail: 'declared but not in the DNIS pool', declaredByJob: item.jobId, declaredOnLine: item.line };
}

function describeDesired(state: AppliedState): string {
  if (state.target === undefined) return 'in the pool';
  return state.target === null ? 'unassigned' : describeTarget(state.target);
}

/** Informational: a file named the number, but its row changed nothing, so nothing is desired yet. */
function notApplied(dnis: string, declared: Declaration, actual: string): DriftFinding {
  return {
    dnis,
    kind: 'not-applied',
    desired: '',
    actual,
    detail: `declared by a file row that ended ${declared.outcome}; nothing was applied, so there is no desired state to compare (informational)`,
    declaredByJob: declared.jobId,
    declaredOnLine: declared.line,
  };
}
