import { describe, expect, it } from 'vitest';
import type { StateEvent } from '../../../../local/ringcx-simulator/state';
import { outcomeMismatches } from '../../../../local/twin/outcomeAudit';

const at = (ms: number, kind: StateEvent['kind'], dnis: string): StateEvent => ({ at: ms, kind, dnis });

describe('outcomeMismatches', () => {
  const events = [
    at(5, 'create', '1'), // before the run: not this job's
    at(10, 'create', '2'),
    at(11, 'assign', '2'),
    at(12, 'unassign', '3'),
    at(13, 'assign', '3'),
    at(14, 'move', '4'),
    at(15, 'duplicate-create', '5'),
    at(16, 'unassign', '6'),
  ];

  it('accepts labels that match the writes this job made', () => {
    const rows = [
      { line: 2, dnis: '1', outcome: 'unchanged' },
      { line: 3, dnis: '2', outcome: 'created' },
      { line: 4, dnis: '3', outcome: 'reassigned' },
      { line: 5, dnis: '4', outcome: 'reassigned' },
      { line: 6, dnis: '5', outcome: 'unchanged' },
      { line: 7, dnis: '6', outcome: 'unassigned' },
      { line: 8, dnis: '7', outcome: 'conflict' },
      { line: 9, dnis: '2', outcome: 'failed' },
    ];
    expect(outcomeMismatches(rows, events, 10)).toEqual([]);
  });

  it('names every row whose label claims what did not happen, or hides what did', () => {
    const rows = [
      { line: 2, dnis: '2', outcome: 'unchanged' },
      { line: 3, dnis: '3', outcome: 'assigned' },
      { line: 4, dnis: '7', outcome: 'reassigned' },
      { line: 5, dnis: '6', outcome: 'conflict' },
      { line: 6, dnis: '4', outcome: 'created' },
    ];
    expect(outcomeMismatches(rows, events, 10)).toEqual([
      'line 2 2: reported unchanged, the simulator saw [create, assign]',
      'line 4 7: reported reassigned, the simulator saw []',
      'line 5 6: reported conflict, the simulator saw [unassign]',
      'line 6 4: reported created, the simulator saw [move]',
    ]);
  });
});
