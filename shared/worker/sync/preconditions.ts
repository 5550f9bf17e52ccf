import { describeTarget } from '../../domain/desiredRow';
import { type CurrentAssignment, type PriorIntent, type RowPlan, checkExpectation } from '../../domain/planner';
import { type StateSnapshot, describeStateChange, fingerprintOf, snapshotOf } from '../../domain/stateFingerprint';
import type { RingCxClient } from '../../ringcx/client';
import { toCurrentAssignment } from '../../ringcx/currentState';
import { isRingCxError } from '../../ringcx/errors';
import type { SyncRequest, SyncResult } from './contract';
import type { IntentBook } from './intentBook';
import { type Work, stop } from './work';

/**
 * Preconditions a row carries (an expected current target, or a saved plan's whole state), checked
 * against every read and on a fresh read just before a move or removal is written.
 */

/** Whether a check on a fresh read is owed before this row's routing is written. */
export const hasPrecondition = (request: SyncRequest) => request.expectedCurrent !== undefined || request.expectedState !== undefined;

export const ROUTING_FIELDS = ['target', 'tracId', 'assignmentActive', 'assignmentDescription'] as const;

/**
 * A saved plan's check on a full read: equal fingerprints mean the planner sees what it saw when
 * the plan was made, so the fresh plan must be the saved one. Returns why not, or undefined.
 *
 * One exception: an earlier delivery of this very row may have written part of the plan before it
 * died (intent recorded). The state then differs by this row's own change; it may go on as long as
 * what is left to do is part of what was approved.
 */
export function planChanged(request: SyncRequest, now: StateSnapshot, plan: RowPlan, intent: PriorIntent | undefined): string | undefined {
  const expected = request.expectedState;
  if (!expected) return undefined;
  if (fingerprintOf(now) === expected.fingerprint) {
    if (canonicalJson(plan.actions) === canonicalJson(expected.actions)) return undefined;
    return 'the plan no longer matches what this version would do; plan again';
  }
  if (intent && ownProgress(request, expected, now) && plan.actions.every((action) => approvedKinds(expected.actions).has(action.kind))) return undefined;
  return `RingCX changed since the plan: ${describeStateChange(expected.snapshot, now) || 'state differs'}`;
}

/**
 * Whether the routing found is one this row's own approved actions lead through: still where the
 * plan found it, removed (by its own move or unassign), or already on the planned target. Anyone
 * else's move shows up as another target and stays stale.
 */
export function ownProgress(request: SyncRequest, expected: NonNullable<SyncRequest['expectedState']>, now: StateSnapshot): boolean {
  const kinds = new Set(expected.actions.map((a) => String((a as { kind?: unknown }).kind)));
  const allowed = new Set<string | null>([expected.snapshot.target]);
  if (kinds.has('reassign') || kinds.has('unassign')) allowed.add(null);
  if (kinds.has('assign') || kinds.has('reassign') || kinds.has('updateAssignment')) allowed.add(describeTarget(request.row.target));
  return allowed.has(now.target);
}

/** A move approved as remove-then-assign may be finished by its assignment alone. */
export function approvedKinds(actions: unknown[]): Set<string> {
  const kinds = new Set(actions.map((a) => String((a as { kind?: unknown }).kind)));
  if (kinds.has('reassign')) kinds.add('assign');
  if (kinds.has('createPool')) kinds.add('updatePool');
  return kinds;
}

export function staleResult(request: SyncRequest, found: CurrentAssignment | null, intent: PriorIntent | undefined): SyncResult | undefined {
  if (request.expectedCurrent === undefined) return undefined;
  const check = checkExpectation(request.expectedCurrent, found?.target ?? null, intent);
  if (check.ok) return undefined;
  return { status: 'done', outcome: 'conflict', stale: true, detail: check.detail, before: found, after: found?.target ?? null };
}

/** The precondition on a fresh read of the number's assignment, just before its routing is written. */
export async function stillAsExpected(client: RingCxClient, w: Work, intents: IntentBook): Promise<boolean> {
  let found: CurrentAssignment | null;
  try {
    found = toCurrentAssignment(await client.getAssignment(w.request.row.dnis));
  } catch (error) {
    if (!isRingCxError(error)) throw error;
    stop(w, error, false);
    return false;
  }
  const stale = staleResult(w.request, found, intents.prior(w.request));
  if (stale && stale.status === 'done') {
    w.stopped = 'stale';
    w.reason = stale.detail;
    w.before = found;
    return false;
  }
  const expected = w.request.expectedState;
  if (expected) {
    // Only the routing is read here; it must still be what this round's full read saw.
    const now = { ...w.state, ...pick(snapshotOf({ pool: undefined, assignment: found }), ROUTING_FIELDS) };
    if (ROUTING_FIELDS.some((field) => now[field] !== w.state[field])) {
      w.stopped = 'stale';
      w.reason = `RingCX changed since the plan: ${describeStateChange(expected.snapshot, now) || 'state differs'}`;
      w.before = found;
      return false;
    }
  }
  return true;
}

/** JSON with object keys sorted: a plan read back from storage need not keep its key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}

export function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, value[key]])) as Pick<T, K>;
}
