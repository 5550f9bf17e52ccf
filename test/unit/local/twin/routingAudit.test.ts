import { describe, expect, it } from 'vitest';
import type { StateEvent } from '../../../../local/ringcx-simulator/state';
import type { UnroutedInterval } from '../../../../local/twin/routingAudit';
import { distribution, invocationSpans, leftUnrouted, numbersOf, openedByCrash, unroutedIntervals } from '../../../../local/twin/routingAudit';

const gate = (id: number) => ({ type: 'gate' as const, id });
const events: StateEvent[] = [
  { at: 100, kind: 'unassign', dnis: 'a', before: gate(1) },
  { at: 150, kind: 'assign', dnis: 'a', after: gate(2) },
  { at: 200, kind: 'move', dnis: 'b', before: gate(1), after: gate(2) },
  { at: 300, kind: 'unassign', dnis: 'c', before: gate(1) },
  { at: 400, kind: 'create', dnis: 'd' },
  { at: 410, kind: 'assign', dnis: 'd', after: gate(3) },
];

describe('routing audit', () => {
  it('finds each stretch a number routed nowhere; a moving PUT has none', () => {
    expect(unroutedIntervals(events)).toEqual([
      { dnis: 'a', from: 100, to: 150 },
      { dnis: 'c', from: 300, to: undefined },
    ]);
    expect(unroutedIntervals(events, new Set(['b', 'd']))).toEqual([]);
  });

  it('flags an interval no invocation carrying the number spans, unless its row asked for an unassign', () => {
    const intervals = unroutedIntervals(events);
    const spanning = [{ startedAt: 90, endedAt: 160, numbers: new Set(['a']), crashed: false }];
    expect(leftUnrouted(intervals, spanning).map((i) => i.dnis)).toEqual(['c']);
    expect(leftUnrouted(intervals, spanning, new Set(['c']))).toEqual([]);
    // The invocation that removed "a" ended before it was assigned again.
    expect(leftUnrouted(intervals, [{ startedAt: 90, endedAt: 120, numbers: new Set(['a']), crashed: false }], new Set(['c'])).map((i) => i.dnis)).toEqual(['a']);
    // Another invocation's number does not cover it.
    expect(leftUnrouted(intervals, [{ startedAt: 0, endedAt: 1_000, numbers: new Set(['b']), crashed: false }], new Set(['c'])).map((i) => i.dnis)).toEqual(['a']);
  });

  it('lets the requests of an environment killed from outside land, but gives one killed at its deadline no allowance', () => {
    const intervals = unroutedIntervals(events).filter((i) => i.dnis === 'a');
    const batch = { messages: [{ Body: JSON.stringify({ row: { dnis: 'a' } }) }], startedAt: 90, endedAt: 120 };
    expect(leftUnrouted(intervals, invocationSpans([{ ...batch, outcome: { status: 'crashed', message: 'SIGKILL' } }], 50))).toEqual([]);
    expect(leftUnrouted(intervals, invocationSpans([{ ...batch, outcome: { status: 'timeout', message: 'Task timed out' } }], 50)).map((i) => i.dnis)).toEqual(['a']);
    expect(leftUnrouted(intervals, invocationSpans([{ ...batch, outcome: { status: 'crashed', message: 'SIGKILL' } }], 10)).map((i) => i.dnis)).toEqual(['a']);
  });

  it('attributes an interval to a crash when its removal landed while the crashed batch ran or from a request it had on the wire', () => {
    // The removal of "c" lands at 300, 20 ms after the environment carrying it was SIGKILLed.
    const [opened] = unroutedIntervals(events).filter((i) => i.dnis === 'c');
    const batch = { messages: [{ Body: JSON.stringify({ row: { dnis: 'c' } }) }], startedAt: 200, endedAt: 280 };
    expect(openedByCrash(opened as UnroutedInterval, invocationSpans([{ ...batch, outcome: { status: 'crashed', message: 'SIGKILL' } }], 50))).toMatchObject({ startedAt: 200, crashed: true });
    // Beyond the landing allowance, after a deadline kill or a normal return, it is not the crash's.
    expect(openedByCrash(opened as UnroutedInterval, invocationSpans([{ ...batch, outcome: { status: 'crashed', message: 'SIGKILL' } }], 10))).toBeUndefined();
    expect(openedByCrash(opened as UnroutedInterval, invocationSpans([{ ...batch, outcome: { status: 'timeout', message: 'Task timed out' } }], 50))).toBeUndefined();
    expect(openedByCrash(opened as UnroutedInterval, invocationSpans([{ ...batch, endedAt: 400, outcome: { status: 'ok', value: {} } }], 50))).toBeUndefined();
  });

  it('reads the numbers of a batch from row messages and summarises gaps', () => {
    expect(numbersOf({ messages: [{ Body: JSON.stringify({ row: { dnis: '12125550100' } }) }, { Body: 'not json' }, { Body: JSON.stringify({ dnis: '+12125550101' }) }] })).toEqual(['12125550100', '12125550101']);
    expect(distribution([5, 1, 3, 2, 4])).toEqual({ count: 5, median: 3, p99: 5, max: 5 });
    expect(distribution([])).toEqual({ count: 0, median: 0, p99: 0, max: 0 });
  });
});
