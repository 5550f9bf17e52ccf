import type { Action } from '../../domain/planner';
import { ARRAY_KINDS, arrayCap } from './applyArray';
import type { InvocationDeadline } from './budget';
import type { SyncOptions } from './contract';
import { hasPrecondition } from './preconditions';
import { type Work, actionsOf, assignmentAction, defer } from './work';

/**
 * How many RingCX calls a row will cost, and which rows an invocation can start and still finish
 * before its deadline.
 */

/**
 * Moves run as remove-then-assign unless the tenant moves a number on PUT ("direct"). Tracking
 * numbers have no move operation, so moves to or from them always remove first.
 */
export function removesFirst(action: Extract<Action, { kind: 'reassign' }>, options: SyncOptions): boolean {
  return options.reassignMode === 'unassign-first' || action.from.target.type === 'trackingGroup' || action.target.type === 'trackingGroup';
}

/** How a row's RingCX calls are made: in shared array calls, or as a unit of its own. */
export function shapeOf(w: Work, options: SyncOptions) {
  const fresh = hasPrecondition(w.request) ? 1 : 0;
  const reassign = actionsOf(w, 'reassign')[0];
  const unassign = actionsOf(w, 'unassign')[0];
  const assignment = assignmentAction(w);
  let unitCalls = 0;
  let arrayTarget: string | undefined;
  /** The number routes nowhere between this unit's calls, so its last call is priced at its worst. */
  let unroutes = false;
  if (unassign) unitCalls = fresh + 1;
  else if (reassign && removesFirst(reassign, options)) {
    unitCalls = fresh + 2;
    unroutes = true;
  }
  else if (assignment && assignment.target.type === 'trackingGroup') unitCalls = 1;
  else if (assignment) {
    arrayTarget = `${assignment.target.type}:${assignment.target.id}`;
    if (reassign) unitCalls = fresh;
  }
  return { create: actionsOf(w, 'createPool').length > 0, update: actionsOf(w, 'updatePool').length > 0, arrayTarget, unitCalls, unroutes };
}

/**
 * Picks the rows this invocation can finish, in order: each row is admitted only if the calls of
 * every admitted row together still fit before the deadline. Array calls are shared, so a row that
 * joins an array already being sent costs nothing extra. The rest are not started at all.
 */
export function admit(writes: Work[], deadline: InvocationDeadline, options: SyncOptions): Work[] {
  let creates = 0;
  let updates = 0;
  let units = 0;
  const arrays = new Map<string, number>();
  // At the caps RingCX has taught this process, so a lower learned cap is priced in.
  const cap = { create: arrayCap(ARRAY_KINDS.create, options.maxArray), update: arrayCap(ARRAY_KINDS.update, options.maxArray), assign: arrayCap(ARRAY_KINDS.assign, options.maxArray) };
  const calls = () =>
    Math.ceil(creates / cap.create) +
    Math.ceil(updates / cap.update) +
    [...arrays.values()].reduce((n, size) => n + Math.ceil(size / cap.assign), 0) +
    units;
  const admitted: Work[] = [];
  for (const w of writes) {
    const shape = shapeOf(w, options);
    const before = calls();
    creates += shape.create ? 1 : 0;
    updates += shape.update ? 1 : 0;
    units += shape.unitCalls;
    if (shape.arrayTarget) arrays.set(shape.arrayTarget, (arrays.get(shape.arrayTarget) ?? 0) + 1);
    const total = calls();
    if (w.mustFinish || (shape.unroutes ? deadline.fitsUnrouting(total) : deadline.fits(total))) {
      admitted.push(w);
      continue;
    }
    creates -= shape.create ? 1 : 0;
    updates -= shape.update ? 1 : 0;
    units -= shape.unitCalls;
    if (shape.arrayTarget) arrays.set(shape.arrayTarget, (arrays.get(shape.arrayTarget) ?? 1) - 1);
    defer(w, deadline, total - before, 'this row', shape.unroutes);
  }
  return admitted;
}
