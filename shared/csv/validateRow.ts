import { normalizeNumber, type NumberValidation } from '../domain/phoneNumber';
import { type DesiredRow, type OnConflict, type Target, TARGET_TYPE_CHOICES, type TargetType, targetTypeNamed } from '../contracts';
import { type Column, type HeaderMap, stripNeutraliser } from './columns';

export interface RowRules {
  defaultRegion: string;
  validation: NumberValidation;
  defaultAccountId: string | undefined;
}

export type RowResult = { ok: true; row: DesiredRow } | { ok: false; reason: string };

export const MAX_DESCRIPTION = 255;
export const MAX_NOTES = 1024;
/**
 * RingCX account ids are numeric strings; every one seen is 8 digits. 19 digits is the most a
 * signed 64-bit id can have, so anything longer is a paste accident, not an account.
 */
export const MAX_ACCOUNT_ID_DIGITS = 19;

/** What Excel makes of a long number in a General-formatted column: `1.21256E+10`. */
const SCIENTIFIC_NOTATION = /^[+-]?[0-9]+(?:[.,][0-9]+)?E[+-]?[0-9]+$/i;

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
    if (SCIENTIFIC_NOTATION.test(rawDnis)) {
      throw new RowProblem(
        `dnis "${clip(rawDnis)}" looks like a number Excel converted to scientific notation, which loses digits; format the column as text and enter the numbers again`,
      );
    }
    const number = normalizeNumber(rawDnis, { defaultRegion: rules.defaultRegion, validation: rules.validation });
    if (!number.ok) throw new RowProblem(`dnis "${clip(rawDnis)}" ${number.reason}`);

    const accountId = cell('accountId') ?? rules.defaultAccountId;
    if (accountId === undefined) throw new RowProblem('account_id is empty and no default account is configured');
    if (!/^[0-9]+$/.test(accountId)) throw new RowProblem(`account_id "${clip(accountId)}" must be a numeric RingCX account id`);
    if (accountId.length > MAX_ACCOUNT_ID_DIGITS) {
      throw new RowProblem(`account_id has ${accountId.length} digits; RingCX account ids have at most ${MAX_ACCOUNT_ID_DIGITS}`);
    }

    const description = text(cell('description'), 'description', MAX_DESCRIPTION);
    const notes = text(cell('notes'), 'notes', MAX_NOTES);
    const category = (cell('category') ?? 'VOICE').toUpperCase();
    if (!/^[A-Z][A-Z0-9_]{0,31}$/.test(category)) throw new RowProblem(`category "${clip(category)}" is not a RingCX DNIS category such as VOICE`);
    const active = bool(cell('active'), 'active');
    const action = choice(cell('action'), 'action', ['upsert', 'unassign'] as const, 'upsert');
    const onConflict = choice(cell('onConflict'), 'on_conflict', ['fail', 'skip', 'reassign'] as const, 'fail') as OnConflict;
    const target = readTarget(cell);
    // Defaults to the description only when the file has no such column: an empty cell in a file
    // that has it means "leave it", like every other empty cell (an export fed back changes nothing).
    const assignmentDescription =
      text(cell('assignmentDescription'), 'assignment_description', MAX_DESCRIPTION) ??
      (header.index.assignmentDescription === undefined ? description : undefined);
    const assignmentActive = bool(cell('assignmentActive'), 'assignment_active');

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
        assignmentActive: assignmentActive ?? active ?? true,
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
  const type = targetTypeNamed(typeCell);
  if (!type) {
    throw new RowProblem(`target_type "${clip(typeCell)}" is not one of ${TARGET_TYPE_CHOICES}`);
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

/**
 * Characters a one-line label must not hold: line breaks and other C0/C1 controls break RingCX's
 * admin UI and every report downstream; bidi overrides and isolates make text display in another
 * order than it is stored (the "Trojan Source" trick); zero-width characters make two labels that
 * look the same differ.
 */
const FORBIDDEN_IN_TEXT: [RegExp, string][] = [
  [/[\n\r\u2028\u2029]/, 'a line break'],
  [/[\u0000-\u001f\u007f-\u009f]/, 'control characters'],
  [/[\u202a-\u202e\u2066-\u2069]/, 'a bidirectional override'],
  [/[\u200b-\u200d\u2060\ufeff]/, 'a zero-width character'],
];

function text(value: string | undefined, column: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  for (const [pattern, what] of FORBIDDEN_IN_TEXT) {
    const match = pattern.exec(value);
    if (match) {
      const code = `U+${(match[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`;
      throw new RowProblem(`${column} contains ${what} (${code} at character ${match.index + 1}); it must be one line of visible text`);
    }
  }
  if (value.length > max) throw new RowProblem(`${column} is ${value.length} characters long; the limit is ${max}`);
  return value.normalize('NFC');
}

function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 37)}...` : value;
}
