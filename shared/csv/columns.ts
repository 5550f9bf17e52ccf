/**
 * The CSV contract's columns. Header names are matched case-insensitively with spaces, `_` and `-`
 * ignored, so `Target Type`, `target_type` and `targetType` are the same column.
 */
export const COLUMN_ALIASES = {
  dnis: ['dnis', 'phonenumber', 'number', 'did', 'tfn'],
  description: ['description', 'dnisdescription'],
  accountId: ['accountid', 'reservedaccountid'],
  category: ['category', 'dniscategory'],
  notes: ['notes'],
  active: ['active', 'isactive'],
  targetType: ['targettype'],
  targetId: ['targetid'],
  gateId: ['gateid', 'queueid'],
  visualIvrId: ['visualivrid'],
  cloudRouteProfileId: ['cloudrouteprofileid'],
  trackingGroupId: ['trackinggroupid', 'tracgroupid'],
  assignmentDescription: ['assignmentdescription'],
  assignmentActive: ['assignmentactive', 'assignmentisactive'],
  onConflict: ['onconflict'],
  action: ['action'],
} as const;

export type Column = keyof typeof COLUMN_ALIASES;

/**
 * Columns this system writes into files people may feed back as input: the export's read-only
 * columns and failed.csv's reason. They carry nothing the importer applies, so they are neither
 * read nor listed as ignored.
 */
const INFORMATIONAL_COLUMNS = new Set(['e164', 'targetname', 'trackinggroup', 'error']);

/** How each column is written in the docs and in suggestions. */
const DISPLAY_NAMES: Record<Column, string> = {
  dnis: 'dnis',
  description: 'description',
  accountId: 'account_id',
  category: 'category',
  notes: 'notes',
  active: 'active',
  targetType: 'target_type',
  targetId: 'target_id',
  gateId: 'gateId',
  visualIvrId: 'visualIvrId',
  cloudRouteProfileId: 'cloudRouteProfileId',
  trackingGroupId: 'trackingGroupId',
  assignmentDescription: 'assignment_description',
  assignmentActive: 'assignment_active',
  onConflict: 'on_conflict',
  action: 'action',
};

const BY_ALIAS = new Map<string, Column>(
  Object.entries(COLUMN_ALIASES).flatMap(([column, aliases]) => aliases.map((alias) => [alias, column as Column])),
);

export function canonicalHeaderName(name: string): string {
  return name.normalize('NFKC').toLowerCase().replace(/[\s_\-]/g, '');
}

export interface HeaderMap {
  /** Column → index in the record. */
  index: Partial<Record<Column, number>>;
  /** Header cells that match no column; they are ignored and listed in the summary. */
  ignored: string[];
  width: number;
}

export type HeaderResult = { ok: true; header: HeaderMap } | { ok: false; reason: string };

export function readHeader(cells: string[]): HeaderResult {
  const index: Partial<Record<Column, number>> = {};
  const ignored: string[] = [];
  for (const [position, cell] of cells.entries()) {
    const name = canonicalHeaderName(stripNeutraliser(cell));
    const column = BY_ALIAS.get(name);
    if (!column) {
      if (cell.trim() !== '' && !INFORMATIONAL_COLUMNS.has(name)) ignored.push(cell.trim());
      continue;
    }
    if (index[column] !== undefined) {
      return { ok: false, reason: `the header names the ${column} column twice ("${cells[index[column]]}" and "${cell}")` };
    }
    index[column] = position;
  }
  if (index.dnis === undefined) {
    const only = cells.length === 1 ? cells[0] ?? '' : '';
    const delimiter = [';', '\t', '|'].find((d) => only.includes(d));
    if (delimiter) {
      const name = delimiter === '\t' ? 'tabs' : `"${delimiter}"`;
      return { ok: false, reason: `the header has no dnis column; the file seems to be separated by ${name}, save it as comma-separated CSV` };
    }
    return { ok: false, reason: `the header has no dnis column (found: ${cells.map((c) => `"${c}"`).join(', ') || 'nothing'})` };
  }
  return { ok: true, header: { index, ignored, width: cells.length } };
}

export interface ColumnSuggestion {
  /** The header cell as the file has it. */
  column: string;
  suggestion: string;
}

/**
 * For header cells that match no column, the column the author most likely meant (`target typ` →
 * `target_type`), when exactly one is close and the file does not already have it. Short names
 * get no suggestion: at two or three letters nearly everything is one edit away.
 */
export function suggestColumns(headerCells: string[]): ColumnSuggestion[] {
  const read = readHeader(headerCells);
  const present = new Set<Column>(read.ok ? (Object.keys(read.header.index) as Column[]) : []);
  const ignored = read.ok ? read.header.ignored : [];
  const suggestions: ColumnSuggestion[] = [];
  for (const cell of ignored) {
    const name = canonicalHeaderName(stripNeutraliser(cell));
    const allowed = name.length < 4 ? 0 : name.length < 8 ? 1 : 2;
    if (allowed === 0) continue;
    let best: { column: Column; distance: number } | undefined;
    let tie = false;
    for (const [alias, column] of BY_ALIAS) {
      if (present.has(column)) continue;
      const distance = editDistance(name, alias, allowed);
      if (distance > allowed) continue;
      if (!best || distance < best.distance) {
        best = { column, distance };
        tie = false;
      } else if (distance === best.distance && column !== best.column) {
        tie = true;
      }
    }
    if (best && !tie) suggestions.push({ column: cell, suggestion: DISPLAY_NAMES[best.column] });
  }
  return suggestions;
}

/** Optimal-string-alignment distance (a swap of neighbours counts once), capped at `limit + 1`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous2: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, (previous2[j - 2] as number) + 1);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    previous2 = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * Reports this system writes prefix formula-looking cells with `'`; a corrected failed.csv comes
 * back with them, so the prefix is dropped again on read.
 */
export function stripNeutraliser(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}
