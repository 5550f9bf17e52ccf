import type { StateEvent } from '../ringcx-simulator/state';
import type { MappingInvocation } from './eventSourceMapping';

/** A stretch of time in which a number routed nowhere: from losing one assignment to gaining the next (open if it never did). */
export interface UnroutedInterval {
  dnis: string;
  from: number;
  to: number | undefined;
}

/**
 * Every unrouted interval in the simulator's event log (its writes, timestamped as applied). A
 * move by one PUT has none; remove-then-assign has one, whose length is the move's unrouted gap.
 */
export function unroutedIntervals(events: readonly StateEvent[], only?: ReadonlySet<string>): UnroutedInterval[] {
  const open = new Map<string, number>();
  const intervals: UnroutedInterval[] = [];
  for (const event of events) {
    if (only && !only.has(event.dnis)) continue;
    if (event.kind === 'unassign') {
      if (!open.has(event.dnis)) open.set(event.dnis, event.at);
    } else if (event.kind === 'assign' || event.kind === 'move') {
      const from = open.get(event.dnis);
      if (from !== undefined) {
        intervals.push({ dnis: event.dnis, from, to: event.at });
        open.delete(event.dnis);
      }
    }
  }
  for (const [dnis, from] of open) intervals.push({ dnis, from, to: undefined });
  return intervals;
}

/** The number each worker invocation's batch was about, from the row messages' bodies. */
export function numbersOf(invocation: Pick<MappingInvocation, 'messages'>): string[] {
  const numbers: string[] = [];
  for (const message of invocation.messages) {
    try {
      const body = JSON.parse(message.Body ?? '{}') as { row?: { dnis?: unknown }; dnis?: unknown };
      const dnis = body.row?.dnis ?? body.dnis;
      if (typeof dnis === 'string') numbers.push(dnis.replace(/^\+/, ''));
    } catch {
      // Not a row message: nothing to attribute.
    }
  }
  return numbers;
}

export interface InvocationSpan {
  startedAt: number;
  endedAt: number;
  numbers: ReadonlySet<string>;
  /** SIGKILLed from outside mid-batch; endedAt then includes the landing allowance. */
  crashed: boolean;
}

/**
 * Each invocation's span for `leftUnrouted`. An environment SIGKILLed from outside mid-batch (a
 * crash, `crashed`) cannot take back a request already on the wire, and nothing a worker does can
 * prevent a crash between a move's two calls; its span therefore ends when such a request would
 * have landed (`landingMs`, the client's request timeout). One killed at its deadline (`timeout`)
 * gets no allowance: the worker must not have started a move it could not finish.
 */
export function invocationSpans(invocations: readonly Pick<MappingInvocation, 'messages' | 'startedAt' | 'endedAt' | 'outcome'>[], landingMs: number): InvocationSpan[] {
  return invocations.map((i) => ({
    startedAt: i.startedAt,
    endedAt: i.endedAt + (i.outcome.status === 'crashed' ? landingMs : 0),
    numbers: new Set(numbersOf(i)),
    crashed: i.outcome.status === 'crashed',
  }));
}

/**
 * The crashed invocation that opened an interval: it carried the number, and the removal landed
 * while it ran or from a request it had on the wire when it was killed (within its span's landing
 * allowance). No worker can send the assignment of a move whose process is gone.
 */
export function openedByCrash(interval: UnroutedInterval, invocations: readonly InvocationSpan[]): InvocationSpan | undefined {
  return invocations.find((i) => i.crashed && i.numbers.has(interval.dnis) && i.startedAt <= interval.from && interval.from <= i.endedAt);
}

/**
 * Intervals that outlived the invocation that opened them: a number removed during an invocation
 * must have its new assignment before that invocation ends (returns, fails, or is killed). An
 * interval is fine when some invocation carrying that number was running over the whole of it.
 */
export function leftUnrouted(intervals: readonly UnroutedInterval[], invocations: readonly InvocationSpan[], allowed: ReadonlySet<string> = new Set()): UnroutedInterval[] {
  return intervals.filter((interval) => {
    if (allowed.has(interval.dnis)) return false;
    const to = interval.to ?? Number.POSITIVE_INFINITY;
    return !invocations.some((i) => i.numbers.has(interval.dnis) && i.startedAt <= interval.from && i.endedAt >= to);
  });
}

export function distribution(values: readonly number[]): { count: number; median: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
  return { count: sorted.length, median: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}
