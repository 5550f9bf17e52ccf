import { describe, expect, it } from 'vitest';
import { readHeader, suggestColumns } from '../../../shared/csv/columns';
import { validateRow } from '../../../shared/csv/validateRow';
import { csvLine, neutraliseCell } from '../../../shared/csv/writer';

const rules = { defaultRegion: 'US', validation: 'strict' as const, defaultAccountId: '99990001' };
const header = (cells: string[]) => {
  const read = readHeader(cells);
  if (!read.ok) throw new Error(read.reason);
  return read.header;
};
const reasonOf = (result: ReturnType<typeof validateRow>) => (result.ok ? undefined : result.reason);

describe('formula guard', () => {
  it('leaves a plain E.164 number as it is', () => {
    expect(neutraliseCell('+12125550100')).toBe('+12125550100');
    expect(neutraliseCell('+4312125550101')).toBe('+4312125550101');
    expect(csvLine(['+12125550100', '+4312125550101'])).toBe('+12125550100,+4312125550101\r\n');
  });

  it.each(['+1+2', '+12125550100)', '+HYPERLINK("x")', '+', '+ 1212', '=+12125550100', '-12125550100', `+${'1'.repeat(16)}`])(
    'still neutralises %j',
    (cell) => {
      expect(neutraliseCell(cell)).toBe(`'${cell}`);
    },
  );
});

describe('row validation', () => {
  const h = header(['dnis', 'description', 'notes', 'assignment_description', 'account_id', 'target_type', 'target_id']);
  const row = (overrides: Partial<Record<'dnis' | 'description' | 'notes' | 'assignmentDescription' | 'accountId', string>>) =>
    validateRow(
      [overrides.dnis ?? '2125550123', overrides.description ?? '', overrides.notes ?? '', overrides.assignmentDescription ?? '', overrides.accountId ?? '', 'queue', '4501'],
      h,
      rules,
    );

  it.each(['1.21256E+10', '1,21256E+10', '1.2125550123e10', '12125550123E0'])('names Excel scientific notation in %j', (dnis) => {
    expect(reasonOf(row({ dnis }))).toBe(
      `dnis "${dnis}" looks like a number Excel converted to scientific notation, which loses digits; format the column as text and enter the numbers again`,
    );
  });

  it('still calls real letters letters', () => {
    expect(reasonOf(row({ dnis: '212-FLOWERS' }))).toMatch(/contains letters/);
  });

  const forbidden: [string, string, RegExp][] = [
    ['line feed', 'two\nlines', /a line break \(U\+000A at character 4\)/],
    ['carriage return', 'two\rlines', /a line break \(U\+000D/],
    ['line separator', 'two\u2028lines', /a line break \(U\+2028/],
    ['bell', 'ring\u0007', /control characters \(U\+0007/],
    ['tab', 'a\tb', /control characters \(U\+0009/],
    ['C1 next-line', 'a\u0085b', /control characters \(U\+0085/],
    ['C1 CSI', 'a\u009bb', /control characters \(U\+009B/],
    ['right-to-left override', 'abc\u202Egnp.exe', /a bidirectional override \(U\+202E/],
    ['left-to-right embedding', '\u202Aabc', /a bidirectional override \(U\+202A/],
    ['first-strong isolate', 'ab\u2068c', /a bidirectional override \(U\+2068/],
    ['pop isolate', 'ab\u2069c', /a bidirectional override \(U\+2069/],
    ['zero-width space', 'Sup\u200Bport', /a zero-width character \(U\+200B/],
    ['zero-width joiner', 'Sup\u200Dport', /a zero-width character \(U\+200D/],
    ['word joiner', 'Sup\u2060port', /a zero-width character \(U\+2060/],
    ['inner byte-order mark', 'Sup\uFEFFport', /a zero-width character \(U\+FEFF/],
  ];
  it.each(forbidden)('rejects a %s in description, notes and assignment_description', (_name, value, reason) => {
    expect(reasonOf(row({ description: value }))).toMatch(new RegExp(`^description contains ${reason.source}`));
    expect(reasonOf(row({ notes: value }))).toMatch(new RegExp(`^notes contains ${reason.source}`));
    expect(reasonOf(row({ assignmentDescription: value }))).toMatch(new RegExp(`^assignment_description contains ${reason.source}`));
  });

  it('keeps visible non-ASCII text, emoji included', () => {
    expect(row({ description: 'Café Zürich — 東京 📞 עברית' })).toMatchObject({ ok: true, row: { description: 'Café Zürich — 東京 📞 עברית' } });
  });

  it('limits account_id to 19 digits', () => {
    expect(row({ accountId: '9'.repeat(19) })).toMatchObject({ ok: true, row: { accountId: '9'.repeat(19) } });
    expect(reasonOf(row({ accountId: '9'.repeat(20) }))).toBe('account_id has 20 digits; RingCX account ids have at most 19');
    expect(reasonOf(row({ accountId: '1'.repeat(300) }))).toBe('account_id has 300 digits; RingCX account ids have at most 19');
  });

  it('defaults assignment_description to description only when the file has no such column', () => {
    expect(row({ description: 'Main' })).toMatchObject({ ok: true, row: { description: 'Main' } });
    expect(row({ description: 'Main' })).not.toHaveProperty('row.assignmentDescription');
    const without = header(['dnis', 'description', 'target_type', 'target_id']);
    expect(validateRow(['2125550123', 'Main', 'queue', '4501'], without, rules)).toMatchObject({ ok: true, row: { assignmentDescription: 'Main' } });
  });

  it('reads assignment_active apart from the pool active flag', () => {
    const hh = header(['dnis', 'active', 'assignment_active', 'target_type', 'target_id']);
    expect(validateRow(['2125550123', 'true', 'false', 'queue', '4501'], hh, rules)).toMatchObject({ ok: true, row: { active: true, assignmentActive: false } });
    expect(validateRow(['2125550123', 'false', '', 'queue', '4501'], hh, rules)).toMatchObject({ ok: true, row: { active: false, assignmentActive: false } });
  });
});

describe('header', () => {
  it('does not list the export and failed.csv informational columns as ignored', () => {
    expect(header(['dnis', 'e164', 'target_name', 'tracking_group', 'error', 'cost center']).ignored).toEqual(['cost center']);
  });

  it('suggests the column a typo meant', () => {
    expect(suggestColumns(['dnis', 'target typ', 'target_id'])).toEqual([{ column: 'target typ', suggestion: 'target_type' }]);
    expect(suggestColumns(['dnis', 'desciption', 'acount id', 'on conflcit', 'Target_Tpye'])).toEqual([
      { column: 'desciption', suggestion: 'description' },
      { column: 'acount id', suggestion: 'account_id' },
      { column: 'on conflcit', suggestion: 'on_conflict' },
      { column: 'Target_Tpye', suggestion: 'target_type' },
    ]);
  });

  it('suggests nothing for unrelated or short names, or a column the file already has', () => {
    expect(suggestColumns(['dnis', 'region', 'cost center', 'id', 'e164', 'target_name', 'tracking_group'])).toEqual([]);
    expect(suggestColumns(['dnis', 'description', 'descripton'])).toEqual([]);
  });
});
