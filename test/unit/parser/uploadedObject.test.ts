import { describe, expect, it } from 'vitest';
import { jobIdFor, modeOf, safeRelativePath } from '../../../shared/parser/uploadedObject';

describe('jobIdFor', () => {
  it('gives one object version one job, and another version another', () => {
    const ref = { bucket: 'b', key: 'incoming/a.csv', versionId: 'v1', etag: 'e' };
    expect(jobIdFor(ref)).toBe(jobIdFor({ ...ref, size: 10 }));
    expect(jobIdFor(ref)).toMatch(/^[0-9a-f]{24}$/);
    expect(jobIdFor({ ...ref, versionId: 'v2' })).not.toBe(jobIdFor(ref));
  });
});

describe('modeOf', () => {
  it('reads the mode from the prefix, and nothing from an unknown one', () => {
    expect(modeOf('incoming/team/a.csv')).toEqual({ mode: 'apply', relative: 'team/a.csv' });
    expect(modeOf('plan/a.csv')).toEqual({ mode: 'plan', relative: 'a.csv' });
    expect(modeOf('results/a.csv')).toBeUndefined();
  });
});

describe('safeRelativePath', () => {
  it('keeps a report path inside its folder whatever the key says', () => {
    expect(safeRelativePath('../../etc/passwd')).toBe('etc/passwd');
    expect(safeRelativePath('team/./.hidden/a\u0000b?.csv')).toBe('team/_hidden/ab_.csv');
    expect(safeRelativePath('///')).toBe('file');
  });
});
