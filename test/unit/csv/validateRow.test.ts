import { describe, expect, it } from 'vitest';
import { readHeader } from '../../../shared/csv/columns';
import { validateRow } from '../../../shared/csv/validateRow';
import { csvLine, neutraliseCell } from '../../../shared/csv/writer';
import { NumberLineIndex } from '../../../shared/csv/numberIndex';

const rules = { defaultRegion: 'US', validation: 'strict' as const, defaultAccountId: '99990001' };
const header = (cells: string[]) => {
  const read = readHeader(cells);
  if (!read.ok) throw new Error(read.reason);
  return read.header;
};

describe('validateRow', () => {
  const h = header(['DNIS', 'Description', 'Account ID', 'target-type', 'Target_Id', 'active', 'assignment description', 'on conflict', 'Action', 'notes', 'category']);
  it('normalises a full row', () => {
    expect(validateRow(['+1 (212) 555-0123', 'Main', '', 'Gate', '4501', 'no', '', 'REASSIGN', 'upsert', 'n', 'voice'], h, rules)).toEqual({
      ok: true,
      row: {
        dnis: '12125550123',
        e164: '+12125550123',
        accountId: '99990001',
        description: 'Main',
        category: 'VOICE',
        notes: 'n',
        active: false,
        target: { type: 'gate', id: 4501 },
        assignmentActive: false,
        onConflict: 'reassign',
        action: 'upsert',
      },
    });
  });

  it('says when there is no account to use', () => {
    expect(validateRow(['2125550123'], header(['dnis']), { ...rules, defaultAccountId: undefined })).toEqual({
      ok: false,
      reason: 'account_id is empty and no default account is configured',
    });
  });

  it('reads the alias target columns', () => {
    const hh = header(['dnis', 'cloudRouteProfileId']);
    expect(validateRow(['2125550123', '801'], hh, rules)).toMatchObject({ ok: true, row: { target: { type: 'cloudRouteProfile', id: 801 } } });
  });
});

describe('readHeader', () => {
  it('refuses a header without dnis and names what it found', () => {
    expect(readHeader(['Phone Number', 'desc'])).toEqual({ ok: true, header: expect.anything() });
    expect(readHeader(['tel', 'desc'])).toEqual({ ok: false, reason: 'the header has no dnis column (found: "tel", "desc")' });
  });
});

describe('csv writer', () => {
  it.each(['=1+1', '+1 212', '-2', '@SUM(A1)', '\tx', '\rx'])('neutralises %j', (cell) => {
    expect(neutraliseCell(cell)).toBe(`'${cell}`);
  });
  it('quotes per RFC 4180 and ends lines with CRLF', () => {
    expect(csvLine(['a,b', 'say "hi"', 3, null, 'multi\nline'])).toBe('"a,b","say ""hi""",3,,"multi\nline"\r\n');
  });
});

describe('NumberLineIndex', () => {
  it('remembers the first line of each number across growth', () => {
    const index = new NumberLineIndex(4);
    for (let i = 0; i < 10_000; i++) expect(index.claim(String(12125550000 + i), i + 2)).toBe(0);
    expect(index.claim('12125550000', 99_999)).toBe(2);
    expect(index.claim('12125559999', 99_999)).toBe(10_001);
    expect(index.size).toBe(10_000);
  });
});
