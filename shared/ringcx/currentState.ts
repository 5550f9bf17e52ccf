import type { RingCxClient } from './client';
import type { AssignedDnis, DnisPool } from './schemas';
import type { CurrentAssignment, CurrentState } from '../domain/planner';

/** Maps RingCX's AssignedDnis (one of gate / visualIvr / cloudRouteProfile / tracNumber set) to ours. */
export function toCurrentAssignment(assigned: AssignedDnis | null | undefined): CurrentAssignment | null {
  if (!assigned) return null;
  const common = {
    isActive: assigned.isActive ?? undefined,
    description: assigned.dnisDescription ?? undefined,
  };
  if (assigned.gate?.gateId) {
    return { ...common, target: { type: 'gate', id: assigned.gate.gateId }, targetName: assigned.gate.gateName ?? undefined };
  }
  if (assigned.visualIvr?.visualIvrId) {
    return { ...common, target: { type: 'visualIvr', id: assigned.visualIvr.visualIvrId }, targetName: assigned.visualIvr.visualIvrName ?? undefined };
  }
  if (assigned.cloudRouteProfile?.cloudProfileId) {
    return {
      ...common,
      target: { type: 'cloudRouteProfile', id: assigned.cloudRouteProfile.cloudProfileId },
      targetName: assigned.cloudRouteProfile.profileName ?? undefined,
    };
  }
  if (assigned.tracNumber?.tracId && assigned.tracNumber.tracGroupId) {
    return {
      ...common,
      target: { type: 'trackingGroup', id: assigned.tracNumber.tracGroupId },
      tracId: assigned.tracNumber.tracId,
      targetName: assigned.tracNumber.description ?? undefined,
    };
  }
  // Assigned to a product this system does not manage (e.g. SMS): treat as assigned elsewhere.
  return { ...common, target: { type: 'gate', id: -1 }, targetName: assigned.endPointType ?? 'another product' };
}

function poolOf(record: DnisPool): NonNullable<CurrentState['pool']> {
  return {
    accountId: record.reservedAccountId ?? undefined,
    description: record.dnisDescription ?? undefined,
    category: record.dnisCategory ?? undefined,
    notes: record.notes ?? undefined,
    active: record.active ?? undefined,
  };
}

export interface CurrentStateRead {
  state: Map<string, CurrentState>;
  /** The pool records as read, for updates that must send the whole record. */
  records: Map<string, DnisPool>;
}

/**
 * One search for the whole batch (exact match on every number), with assignments inline where
 * RingCX returns them. Only numbers whose assignment is unknown after the search cost a GET each.
 */
export async function readCurrentState(client: RingCxClient, dnisList: string[], maxRows: number): Promise<CurrentStateRead> {
  const records = await client.findMany(dnisList, maxRows);
  const state = new Map<string, CurrentState>();
  const unknown: string[] = [];
  for (const dnis of dnisList) {
    const record = records.get(dnis);
    if (!record) {
      state.set(dnis, { pool: undefined, assignment: null });
      continue;
    }
    if (record.assignedDnis) {
      state.set(dnis, { pool: poolOf(record), assignment: toCurrentAssignment(record.assignedDnis) });
    } else if (record.dnisState && record.dnisState.toUpperCase() === 'UNASSIGNED') {
      state.set(dnis, { pool: poolOf(record), assignment: null });
    } else {
      unknown.push(dnis);
      state.set(dnis, { pool: poolOf(record), assignment: null });
    }
  }
  for (const dnis of unknown) {
    const assigned = await client.getAssignment(dnis);
    const entry = state.get(dnis);
    if (entry) entry.assignment = toCurrentAssignment(assigned);
  }
  return { state, records };
}
