import { type DesiredRow, describeTarget, type Outcome, type Target } from './desiredRow';

/** What RingCX holds for one number, read just before planning. */
export interface CurrentState {
  /** Undefined when the number is not in the DNIS pool. */
  pool:
    | {
        accountId: string | undefined;
        description: string | undefined;
        category: string | undefined;
        notes: string | undefined;
        active: boolean | undefined;
      }
    | undefined;
  /** Null when the number is not assigned. */
  assignment: CurrentAssignment | null;
}

export interface CurrentAssignment {
  /** For a tracking number, `{ type: 'trackingGroup', id: <tracGroupId> }`. */
  target: Target;
  tracId?: number | undefined;
  targetName?: string | undefined;
  isActive: boolean | undefined;
  description: string | undefined;
}

export interface PoolFields {
  dnisDescription?: string;
  dnisCategory?: string;
  notes?: string;
  active?: boolean;
  reservedAccountId?: string;
}

export interface AssignmentItem {
  isActive: boolean;
  dnisDescription?: string;
}

export type Action =
  | { kind: 'createPool'; fields: PoolFields }
  | { kind: 'updatePool'; fields: PoolFields }
  | { kind: 'assign'; target: Target; item: AssignmentItem }
  | { kind: 'updateAssignment'; target: Target; tracId?: number | undefined; item: AssignmentItem }
  | { kind: 'reassign'; from: CurrentAssignment; target: Target; item: AssignmentItem }
  | { kind: 'unassign'; from: CurrentAssignment };

export interface RowPlan {
  outcome: Outcome;
  actions: Action[];
  detail: string;
}

export function sameTarget(a: Target, b: Target): boolean {
  return a.type === b.type && a.id === b.id;
}

export function describeAssignment(assignment: CurrentAssignment): string {
  return `${describeTarget(assignment.target)}${assignment.targetName ? ` (${assignment.targetName})` : ''}`;
}

/**
 * Current state + desired row → the fewest actions that make RingCX match the row. Pure, so every
 * rule about live routing is tested without a network:
 * - a number assigned elsewhere is never moved unless the row says `on_conflict=reassign`;
 * - a conflict or skip changes nothing at all for that number;
 * - only fields that differ are sent, so re-running a file is a no-op (`unchanged`).
 */
export function planRow(desired: DesiredRow, current: CurrentState): RowPlan {
  return desired.action === 'unassign' ? planUnassign(desired, current) : planUpsert(desired, current);
}

function planUnassign(desired: DesiredRow, current: CurrentState): RowPlan {
  if (!current.pool) return { outcome: 'unchanged', actions: [], detail: 'not in the RingCX pool; nothing to unassign' };
  const assignment = current.assignment;
  if (!assignment) return { outcome: 'unchanged', actions: [], detail: 'already unassigned' };
  if (desired.target && !sameTarget(desired.target, assignment.target)) {
    return {
      outcome: 'conflict',
      actions: [],
      detail: `assigned to ${describeAssignment(assignment)}, not ${describeTarget(desired.target)}; left in place`,
    };
  }
  return {
    outcome: 'unassigned',
    actions: [{ kind: 'unassign', from: assignment }],
    detail: `unassign from ${describeAssignment(assignment)}`,
  };
}

function planUpsert(desired: DesiredRow, current: CurrentState): RowPlan {
  const item: AssignmentItem = {
    isActive: desired.assignmentActive,
    ...(desired.assignmentDescription !== undefined ? { dnisDescription: desired.assignmentDescription } : {}),
  };

  if (!current.pool) {
    const actions: Action[] = [{ kind: 'createPool', fields: createFields(desired) }];
    if (desired.target) actions.push({ kind: 'assign', target: desired.target, item });
    return {
      outcome: 'created',
      actions,
      detail: ['create pool record', desired.target && `assign to ${describeTarget(desired.target)}`].filter(Boolean).join('; '),
    };
  }

  const assignment = current.assignment;
  const movesAway = desired.target !== null && assignment !== null && !sameTarget(desired.target, assignment.target);
  const accountChanges = current.pool.accountId !== undefined && current.pool.accountId !== desired.accountId;

  if ((movesAway || (accountChanges && assignment !== null)) && desired.onConflict !== 'reassign') {
    const where = assignment ? describeAssignment(assignment) : '';
    const why = movesAway
      ? `assigned to ${where}; the file asks for ${describeTarget(desired.target)}`
      : `reserved for account ${current.pool.accountId} and assigned to ${where}; the file asks for account ${desired.accountId}`;
    return desired.onConflict === 'skip'
      ? { outcome: 'skipped', actions: [], detail: `${why}; on_conflict=skip, left as it is` }
      : { outcome: 'conflict', actions: [], detail: `${why}; set on_conflict=reassign to move it` };
  }

  const actions: Action[] = [];
  const changes = poolChanges(desired, current.pool);
  if (Object.keys(changes).length > 0) actions.push({ kind: 'updatePool', fields: changes });

  if (desired.target) {
    if (!assignment) {
      actions.push({ kind: 'assign', target: desired.target, item });
    } else if (movesAway) {
      actions.push({ kind: 'reassign', from: assignment, target: desired.target, item });
    } else if (
      assignment.isActive !== item.isActive ||
      (item.dnisDescription !== undefined && item.dnisDescription !== assignment.description)
    ) {
      actions.push({ kind: 'updateAssignment', target: desired.target, tracId: assignment.tracId, item });
    }
  }

  const outcome: Outcome = actions.some((a) => a.kind === 'reassign')
    ? 'reassigned'
    : actions.some((a) => a.kind === 'assign')
      ? 'assigned'
      : actions.length > 0
        ? 'updated'
        : 'unchanged';
  return { outcome, actions, detail: describeActions(actions, changes) || 'already as the file says' };
}

function createFields(desired: DesiredRow): PoolFields {
  return {
    reservedAccountId: desired.accountId,
    dnisCategory: desired.category,
    active: desired.active,
    ...(desired.description !== undefined ? { dnisDescription: desired.description } : {}),
    ...(desired.notes !== undefined ? { notes: desired.notes } : {}),
  };
}

function poolChanges(desired: DesiredRow, pool: NonNullable<CurrentState['pool']>): PoolFields {
  const changes: PoolFields = {};
  if (desired.description !== undefined && desired.description !== (pool.description ?? '')) changes.dnisDescription = desired.description;
  if (desired.category !== (pool.category ?? 'VOICE')) changes.dnisCategory = desired.category;
  if (desired.notes !== undefined && desired.notes !== (pool.notes ?? '')) changes.notes = desired.notes;
  if (pool.active !== undefined && desired.active !== pool.active) changes.active = desired.active;
  if (pool.accountId !== undefined && desired.accountId !== pool.accountId) changes.reservedAccountId = desired.accountId;
  return changes;
}

function describeActions(actions: Action[], changes: PoolFields): string {
  return actions
    .map((action) => {
      switch (action.kind) {
        case 'updatePool':
          return `update ${Object.keys(changes).join(', ')}`;
        case 'assign':
          return `assign to ${describeTarget(action.target)}`;
        case 'updateAssignment':
          return `update assignment on ${describeTarget(action.target)}`;
        case 'reassign':
          return `move from ${describeAssignment(action.from)} to ${describeTarget(action.target)}`;
        case 'unassign':
          return `unassign from ${describeAssignment(action.from)}`;
        case 'createPool':
          return 'create pool record';
      }
    })
    .join('; ');
}

// ---- preconditions and intents: what a re-read means for a change this job already began ----

/** What a row or request set out to do, as recorded before its first write (see shared/store/intents.ts). */
export interface PriorIntent {
  action: 'create' | 'assign' | 'reassign' | 'unassign' | 'update';
  from: Target | null;
  to: Target | null;
  detail: string;
}

const INTENT_ACTION: Partial<Record<Outcome, PriorIntent['action']>> = {
  created: 'create',
  assigned: 'assign',
  reassigned: 'reassign',
  unassigned: 'unassign',
  updated: 'update',
};

const INTENT_OUTCOME: Record<PriorIntent['action'], Outcome> = {
  create: 'created',
  assign: 'assigned',
  reassign: 'reassigned',
  unassign: 'unassigned',
  update: 'updated',
};

/** The intent to record before applying a plan; undefined for a plan that writes nothing. */
export function intentOf(plan: RowPlan, current: CurrentAssignment | null): PriorIntent | undefined {
  const action = INTENT_ACTION[plan.outcome];
  if (!action || plan.actions.length === 0) return undefined;
  let to: Target | null = current?.target ?? null;
  for (const a of plan.actions) {
    if (a.kind === 'assign' || a.kind === 'reassign' || a.kind === 'updateAssignment') to = a.target;
    if (a.kind === 'unassign') to = null;
  }
  return { action, from: current?.target ?? null, to, detail: plan.detail };
}

function describeRouting(target: Target | null): string {
  return target ? describeTarget(target) : 'unassigned';
}

/**
 * A caller's expectation of where the number routes now (`null`: unassigned) against what a read
 * found. A number found between the two halves of this request's own move (removed, not yet on
 * the new target), or already on the target it was moving to, still meets the expectation: that
 * state is this request's doing, and the move must be finished, not refused.
 */
export function checkExpectation(
  expected: Target | null,
  found: Target | null,
  intent?: PriorIntent,
): { ok: true } | { ok: false; detail: string } {
  const same = (a: Target | null, b: Target | null) => (a === null ? b === null : b !== null && sameTarget(a, b));
  if (same(expected, found)) return { ok: true };
  if (intent && (intent.action === 'reassign' || intent.action === 'assign') && same(expected, intent.from)) {
    if (found === null || same(intent.to, found)) return { ok: true };
  }
  return { ok: false, detail: `stale: expected ${describeRouting(expected)}, found ${describeRouting(found)}` };
}

/**
 * The outcome to report when this row's own change may already (partly) stand. Without an intent
 * the plan speaks. With one, what the re-read shows is credited to the job that made it:
 * - nothing left to do → the intended outcome, "(confirmed by re-reading)";
 * - a created record that still needs its assignment → `created`;
 * - a move found removed but not yet on its new target → finished, and reported `reassigned`.
 */
export function reconcileWithIntent(
  plan: RowPlan,
  intent: PriorIntent | undefined,
): { outcome: Outcome; detail: string; before?: CurrentAssignment | null } {
  if (!intent) return { outcome: plan.outcome, detail: plan.detail };
  const intended = INTENT_OUTCOME[intent.action];
  const from = intent.from ? { target: intent.from, isActive: undefined, description: undefined } : null;
  if (plan.outcome === 'unchanged') {
    return { outcome: intended, detail: `${intent.detail} (confirmed by re-reading)`, before: from };
  }
  const finishing = plan.outcome === 'assigned' || plan.outcome === 'updated';
  if (finishing && intent.action === 'create') {
    return { outcome: 'created', detail: `${intent.detail} (the pool record was created by an earlier attempt, confirmed by re-reading)`, before: null };
  }
  if (finishing && intent.action === 'reassign') {
    return {
      outcome: 'reassigned',
      detail: `${intent.detail} (finished: an earlier attempt had already removed it from ${describeRouting(intent.from)}, confirmed by re-reading)`,
      before: from,
    };
  }
  if (plan.outcome === 'updated' && intent.action === 'assign') {
    return { outcome: 'assigned', detail: `${intent.detail} (confirmed by re-reading)`, before: from };
  }
  return { outcome: plan.outcome, detail: plan.detail };
}
