/**
 * Spreadsheet programs run a cell that starts with = + - @ (or tab / carriage return, which some
 * strip first) as a formula. Every CSV this system writes prefixes such cells with `'`, which
 * spreadsheets display as text; our own reader drops the prefix again. An E.164 number (`+` and
 * digits only) is not a formula, and consumers of the export need it as it is.
 */
export function neutraliseCell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) && !E164_ONLY.test(value) ? `'${value}` : value;
}

const E164_ONLY = /^\+[0-9]{1,15}$/;

/** One RFC 4180 line (CRLF-terminated), every cell neutralised and quoted where needed. */
export function csvLine(cells: readonly (string | number | boolean | null | undefined)[]): string {
  return `${cells
    .map((cell) => {
      const text = neutraliseCell(cell === null || cell === undefined ? '' : String(cell));
      return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    })
    .join(',')}\r\n`;
}
