import { describe, expect, it } from 'vitest';
import { rowCostClass } from '../../../shared/contracts';
import { rowMessage } from '../../helpers/rowMessages';

describe('rowCostClass', () => {
  const base = rowMessage(2);
  const withRow = (row: Partial<typeof base.row>) => ({ ...base, row: { ...base.row, ...row } });

  it('sends plain creates, updates and assignments to a voice target to the bulk queue', () => {
    expect(rowCostClass(base)).toBe('cheap');
    for (const type of ['gate', 'visualIvr', 'cloudRouteProfile'] as const) {
      for (const onConflict of ['fail', 'skip'] as const) expect(rowCostClass(withRow({ target: { type, id: 7 }, onConflict }))).toBe('cheap');
    }
    // Plan runs only read: a large batch costs one search, whatever the rows would do.
    expect(rowCostClass({ ...withRow({ onConflict: 'reassign', target: { type: 'gate', id: 4501 } }), mode: 'plan' })).toBe('cheap');
    expect(rowCostClass({ ...withRow({ target: { type: 'trackingGroup', id: 901 } }), mode: 'plan' })).toBe('cheap');
    expect(rowCostClass({ ...withRow({ action: 'unassign' }), mode: 'plan' })).toBe('cheap');
  });

  it('keeps rows that cost a call per number on the work queue: tracking numbers, unassigns, possible moves', () => {
    expect(rowCostClass(withRow({ target: { type: 'trackingGroup', id: 901 }, onConflict: 'fail' }))).toBe('costly');
    expect(rowCostClass(withRow({ action: 'unassign' }))).toBe('costly');
    expect(rowCostClass(withRow({ target: { type: 'gate', id: 4501 }, onConflict: 'reassign' }))).toBe('costly');
  });

  it('judges a saved plan\'s row by the actions approved: only a move or a removal is costly', () => {
    const planned = (kinds: string[]) => ({ planId: 'p', state: {}, fingerprint: 'f', actions: kinds.map((kind) => ({ kind })), approvedBy: 'a', reason: 'r' });
    const reassignable = withRow({ target: { type: 'gate', id: 4501 }, onConflict: 'reassign' });
    expect(rowCostClass({ ...reassignable, planned: planned(['createPool', 'assign']) })).toBe('cheap');
    expect(rowCostClass({ ...reassignable, planned: planned(['updatePool']) })).toBe('cheap');
    expect(rowCostClass({ ...reassignable, planned: planned(['reassign']) })).toBe('costly');
    expect(rowCostClass({ ...withRow({ onConflict: 'fail' }), planned: planned(['unassign']) })).toBe('costly');
    expect(rowCostClass({ ...withRow({ target: { type: 'trackingGroup', id: 901 } }), planned: planned(['assign']) })).toBe('costly');
  });
});
