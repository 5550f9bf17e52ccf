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
  onConflict: ['onconflict'],
  action: ['action'],
} as const;

export type Column = keyof typeof COLUMN_ALIASES;

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
    const column = BY_ALIAS.get(canonicalHeaderName(stripNeutraliser(cell)));
    if (!column) {
      if (cell.trim() !== '') ignored.push(cell.trim());
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

/**
 * Reports this system writes prefix formula-looking cells with `'`; a corrected failed.csv comes
 * back with them, so the prefix is dropped again on read.
 */
export function stripNeutraliser(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}
