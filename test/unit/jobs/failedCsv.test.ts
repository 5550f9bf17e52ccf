import { describe, expect, it } from 'vitest';
import { failedCsvLayout } from '../../../shared/jobs/reports';

describe('failed.csv layout', () => {
  it('adds a trailing error column and pads short rows so the reason sits under it', () => {
    const layout = failedCsvLayout(['dnis', 'description', 'target_type', 'target_id']);
    expect(layout.header).toEqual(['dnis', 'description', 'target_type', 'target_id', 'error']);
    expect(layout.row(['abc', 'Bad'], 'dnis "abc" contains letters')).toEqual(['abc', 'Bad', '', '', 'dnis "abc" contains letters']);
    expect(layout.row(['1', '2', '3', '4', '5'], 'too wide')).toEqual(['1', '2', '3', '4', '5', 'too wide']);
  });

  it('replaces the reasons of a failed.csv that comes back still failing, instead of adding a second column', () => {
    const layout = failedCsvLayout(['dnis', 'description', 'Error']);
    expect(layout.header).toEqual(['dnis', 'description', 'Error']);
    expect(layout.row(['abc', 'Bad', 'old reason'], 'new reason')).toEqual(['abc', 'Bad', 'new reason']);
  });
});
