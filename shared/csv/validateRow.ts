import { normalizeNumber, type NumberValidation } from '../phone/normalize';
import type { DesiredRow, OnConflict, Target, TargetType } from '../domain/desiredRow';
import { type Column, type HeaderMap, stripNeutraliser } from './columns';

export interface RowRules {
  defaultRegion: string;
  validation: NumberValidation;
  defaultAccountId: string | undefined;
}

export type RowResult = { ok: true; row: DesiredRow } | { ok: false; reason: string };

export const MAX_DESCRIPTION = 255;
export const MAX_NOTES = 1024;

const TARGET_TYPES: Record<string, TargetType> = {
  queue: 'gate',
  gate: 'gate',
  visualivr: 'visualIvr',
  ivr: 'visualIvr',
  cloudrouteprofile: 'cloudRouteProfile',
  trackinggroup: 'trackingGroup',
  tracgroup: 'trackingGroup',
};

const TARGET_ID_COLUMNS: [Column, TargetType][] = [
  ['gateId', 'gate'],
  ['visualIvrId', 'visualIvr'],
  ['cloudRouteProfileId', 'cloudRouteProfile'],
  ['trackingGroupId', 'trackingGroup'],
];

const BOOLEANS: Record<string, boolean> = { true: true, false: false, yes: true, no: false, y: true, n: false, '1': true, '0': false };

class RowProblem extends Error {}

/**
 * One CSV record → the normalised desired state, or a reason a person can act on. Pure.
 * Empty optional cells mean "not specified": they neither clear nor change what RingCX holds.
 */
export function validateRow(cells: string[], header: HeaderMap, rules: RowRules): RowResult {
  if (cells.length > header.width) {
    return {
      ok: false,
      reason: `has ${cells.length} fields but the header has ${header.width}; put quotes around values that contain commas`,
    };
  }
  const cell = (column: Column): string | undefined => {
    const position = header.index[column];
    if (position === undefined) return undefined;
    const value = stripNeutraliser((cells[position] ?? '').trim());
    return value === '' ? undefined : value;
  };
  try {
    const rawDnis = cell('dnis');
    if (rawDnis === undefined) throw new RowProblem('dnis is empty');
    const number = normalizeNumber(rawDnis, { defaultRegion: rules.defaultRegion, validation: rules.validation });
    if (!number.ok) throw new RowProblem(`dnis "${clip(rawDnis)}" ${number.reason}`);

    const accountId = cell('accountId') ?? rules.defaultAccountId;
    if (accountId === undefined) throw new RowProblem('account_id is empty and no default account is configured');
    if (!/^[0-9]+$/.test(accountId)) throw new RowProblem(`account_id "${clip(accountId)}" must be a numeric RingCX account id`);

    const description = text(cell('description'), 'description', MAX_DESCRIPTION);
    const notes = text(cell('notes'), 'notes', MAX_NOTES);
    const category = (cell('category') ?? 'VOICE').toUpperCase();
    if (!/^[A-Z][A-Z0-9_]{0,31}$/.test(category)) throw new RowProblem(`category "${clip(category)}" is not a RingCX DNIS category such as VOICE`);
    const active = bool(cell('active'), 'active');
    const action = choice(cell('action'), 'action', ['upsert', 'unassign'] as const, 'upsert');
    const onConflict = choice(cell('onConflict'), 'on_conflict', ['fail', 'skip', 'reassign'] as const, 'fail') as OnConflict;
    const target = readTarget(cell);
    const assignmentDescription = text(cell('assignmentDescription'), 'assignment_description', MAX_DESCRIPTION) ?? description;

    return {
      ok: true,
      row: {
        dnis: number.value.dnis,
        e164: number.value.e164,
        accountId,
        ...(description !== undefined ? { description } : {}),
        category,
        ...(notes !== undefined ? { notes } : {}),
        active: active ?? true,
        target,
        ...(assignmentDescription !== undefined ? { assignmentDescription } : {}),
        assignmentActive: active ?? true,
        onConflict,
        action,
      },
    };
  } catch (error) {
    if (error instanceof RowProblem) return { ok: false, reason: error.message };
    throw error;
  }
}

function readTarget(cell: (column: Column) => string | undefined): Target | null {
  const typeCell = cell('targetType');
  const idCell = cell('targetId');
  const byColumn = TARGET_ID_COLUMNS.filter(([column]) => cell(column) !== undefined);
  if (byColumn.length > 1) {
    throw new RowProblem(`more than one target is given (${byColumn.map(([c]) => c).join(', ')}); a number routes to one place`);
  }
  if (byColumn.length === 1) {
    const [column, type] = byColumn[0] as [Column, TargetType];
    if (typeCell !== undefined || idCell !== undefined) {
      throw new RowProblem(`both ${column} and target_type/target_id are given; use one or the other`);
    }
    return { type, id: positiveId(cell(column) as string, column) };
  }
  if (typeCell === undefined) {
    if (idCell !== undefined) throw new RowProblem('target_id is given without target_type');
    return null;
  }
  const type = TARGET_TYPES[typeCell.toLowerCase().replace(/[\s_\-]/g, '')];
  if (!type) {
    throw new RowProblem(`target_type "${clip(typeCell)}" is not one of queue, visual_ivr, cloud_route_profile, tracking_group`);
  }
  if (idCell === undefined) throw new RowProblem(`target_type is ${typeCell} but target_id is empty`);
  return { type, id: positiveId(idCell, 'target_id') };
}

function positiveId(value: string, column: string): number {
  if (!/^[0-9]+$/.test(value) || Number(value) <= 0 || Number(value) > 2_147_483_647) {
    throw new RowProblem(`${column} "${clip(value)}" must be a positive whole number`);
  }
  return Number(value);
}

function bool(value: string | undefined, column: string): boolean | undefined {
  if (value === undefined) return undefined;
  const parsed = BOOLEANS[value.toLowerCase()];
  if (parsed === undefined) throw new RowProblem(`${column} "${clip(value)}" must be true/false, yes/no or 1/0`);
  return parsed;
}

function choice<T extends string>(value: string | undefined, column: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  const normalised = value.toLowerCase() as T;
  if (!allowed.includes(normalised)) throw new RowProblem(`${column} "${clip(value)}" must be one of ${allowed.join(', ')}`);
  return normalised;
}

function text(value: string | undefined, column: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  // Control characters other than tab break RingCX's admin UI and every report downstream.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(value)) throw new RowProblem(`${column} contains control characters`);
  if (value.length > max) throw new RowProblem(`${column} is ${value.length} characters long; the limit is ${max}`);
  return value.normalize('NFC');
}

function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 37)}...` : value;
}
