import { describe, expect, it } from 'vitest';
import { NumberLineIndex } from '../../../shared/csv/numberIndex';
import { NumberSet } from '../../../shared/csv/numberSet';

describe('NumberSet', () => {
  it('holds the numbers added, across growth, and nothing else', () => {
    const set = new NumberSet(4);
    for (let i = 0; i < 10_000; i += 2) set.add(String(12125550000 + i));
    set.add('12125550000');
    expect(set.size).toBe(5_000);
    expect(set.has('12125550000')).toBe(true);
    expect(set.has('12125559998')).toBe(true);
    expect(set.has('12125550001')).toBe(false);
    expect(set.has('442079460000')).toBe(false);
    // Asking does not add.
    expect(set.size).toBe(5_000);
  });
});

describe('NumberLineIndex.lineOf', () => {
  it('finds the line that holds a number without recording anything', () => {
    const index = new NumberLineIndex(4);
    index.claim('12125550100', 7);
    expect(index.lineOf('12125550100')).toBe(7);
    expect(index.lineOf('12125550101')).toBe(0);
    expect(index.size).toBe(1);
  });
});
