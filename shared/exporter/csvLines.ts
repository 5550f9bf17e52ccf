import { csvLine } from '../csv/writer';
import type { Target } from '../domain/desiredRow';
import type { DriftFinding } from '../domain/drift';
import type { CurrentAssignment } from '../domain/planner';
import type { DnisPool } from '../ringcx/schemas';

/*
 * The export's two CSV files, line by line. The export is also a valid input file: fed back through
 * the importer it declares exactly what RingCX holds, so it changes nothing
 * (test/integration/exporter/roundTrip.test.ts). Its columns e164, target_name and tracking_group
 * are informational and ignored on import.
 */

export const EXPORT_HEADER = [
  'dnis',
  'e164',
  'account_id',
  'description',
  'category',
  'active',
  'target_type',
  'target_id',
  'target_name',
  'assignment_description',
  'assignment_active',
  'tracking_group',
];
export const DRIFT_HEADER = ['dnis', 'kind', 'desired', 'actual', 'detail', 'declared_by_job', 'declared_on_line'];

const TYPE_NAMES: Record<Target['type'], string> = {
  gate: 'queue',
  visualIvr: 'visual_ivr',
  cloudRouteProfile: 'cloud_route_profile',
  trackingGroup: 'tracking_group',
};

/** One number of the export: its pool record, its current routing and its tracking group, if any. */
export function inventoryLine(dnis: string, record: DnisPool, assignment: CurrentAssignment | null, trackingGroup: string | undefined): string {
  const target = assignment?.target;
  // A target this system does not manage (an SMS assignment, say) is named in target_name but left
  // out of target_type/target_id: fed back as input, such a row must leave its routing alone.
  const managed = target && target.id > 0 ? target : undefined;
  return csvLine([
    // E.164 with its "+", so a re-import reads an international number as such and not as a
    // national number of the default region.
    `+${dnis}`,
    record.dnisE164 ?? `+${dnis}`,
    record.reservedAccountId ?? '',
    record.dnisDescription ?? '',
    record.dnisCategory ?? '',
    record.active ?? '',
    managed ? TYPE_NAMES[managed.type] : '',
    managed ? managed.id : '',
    managed ? (assignment?.targetName ?? '') : assignment ? `other: ${assignment.targetName ?? 'another product'}` : '',
    assignment?.description ?? '',
    assignment ? (assignment.isActive ?? '') : '',
    trackingGroup ?? '',
  ]);
}

export function driftLine(finding: DriftFinding): string {
  return csvLine([finding.dnis, finding.kind, finding.desired, finding.actual, finding.detail, finding.declaredByJob, finding.declaredOnLine]);
}
