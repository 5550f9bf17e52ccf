import { canonicalHeaderName, COLUMN_ALIASES } from '../../shared/csv/columns';

const snakeCase = (name: string) => name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/** The contract's column a mistyped header cell most likely meant, if one is close enough. */
export function closestColumn(cell: string): string | undefined {
  const typed = canonicalHeaderName(cell);
  if (typed === '') return undefined;
  let best: { column: string; distance: number } | undefined;
  for (const [column, aliases] of Object.entries(COLUMN_ALIASES)) {
    for (const alias of aliases) {
      const distance = editDistance(typed, alias);
      if (!best || distance < best.distance) best = { column: snakeCase(column), distance };
    }
  }
  // Two edits (or fewer for short names) is a typo; more is a different column on purpose.
  const allowed = Math.min(2, Math.floor(typed.length / 4));
  return best && best.distance > 0 && best.distance <= allowed ? best.column : undefined;
}

/** One console line per header cell the parser ignored, with a suggestion where it looks like a typo. */
export function ignoredColumnLines(ignored: readonly string[]): string[] {
  return ignored.map((cell) => {
    if (/did you mean/i.test(cell)) return `  note: column ${cell}`;
    const suggestion = closestColumn(cell);
    return `  note: column "${cell}" was ignored${suggestion ? ` (did you mean ${suggestion}?)` : ' (not a column of the CSV contract)'}`;
  });
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] as number;
}
