import { createHash } from 'node:crypto';
import { describeTarget } from './desiredRow';
import type { CurrentState } from './planner';

/**
 * The part of a number's RingCX state a plan depends on, in a canonical shape. Only what the
 * planner reads is here: if two snapshots are equal, `planRow` gives the same actions for both, so
 * a saved plan can be applied exactly as reviewed whenever the snapshot still matches.
 */
export interface StateSnapshot {
  inPool: boolean;
  accountId: string | null;
  description: string | null;
  category: string | null;
  notes: string | null;
  active: boolean | null;
  /** `queue:4501`-style target, or null when unassigned. */
  target: string | null;
  tracId: number | null;
  assignmentActive: boolean | null;
  assignmentDescription: string | null;
}

export function snapshotOf(current: CurrentState): StateSnapshot {
  const pool = current.pool;
  const assignment = current.assignment;
  return {
    inPool: pool !== undefined,
    accountId: pool?.accountId ?? null,
    description: pool?.description ?? null,
    category: pool?.category ?? null,
    notes: pool?.notes ?? null,
    active: pool?.active ?? null,
    target: assignment ? describeTarget(assignment.target) : null,
    tracId: assignment?.tracId ?? null,
    assignmentActive: assignment?.isActive ?? null,
    assignmentDescription: assignment?.description ?? null,
  };
}

/** Key order is fixed by `snapshotOf`, so equal states always hash alike. */
export function fingerprintOf(snapshot: StateSnapshot): string {
  return createHash('sha256').update(JSON.stringify(snapshot)).digest('hex').slice(0, 32);
}

const FIELD_NAMES: Record<keyof StateSnapshot, string> = {
  inPool: 'in pool',
  accountId: 'account',
  description: 'description',
  category: 'category',
  notes: 'notes',
  active: 'active',
  target: 'assignment',
  tracId: 'tracking number',
  assignmentActive: 'assignment active',
  assignmentDescription: 'assignment description',
};

function shown(value: StateSnapshot[keyof StateSnapshot]): string {
  if (value === null) return 'none';
  return typeof value === 'string' ? value : String(value);
}

/**
 * What changed between the state a plan was made against and the state now, in the words an
 * operator reads in a report: "assignment queue:1001 → queue:1002". Empty when nothing did.
 */
export function describeStateChange(planned: StateSnapshot, now: StateSnapshot): string {
  if (planned.inPool !== now.inPool) return now.inPool ? 'the number was added to the pool' : 'the number left the pool';
  const changes: string[] = [];
  for (const key of Object.keys(FIELD_NAMES) as (keyof StateSnapshot)[]) {
    if (key === 'inPool' || planned[key] === now[key]) continue;
    // The target change is what matters for routing; put it first.
    const change = `${FIELD_NAMES[key]} ${shown(planned[key])} → ${shown(now[key])}`;
    if (key === 'target') changes.unshift(change);
    else changes.push(change);
  }
  return changes.join(', ');
}
