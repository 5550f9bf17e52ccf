import { describe, expect, it } from 'vitest';
import { deadDeliveryOutcomes } from '../../../shared/sweeper/deadDeliveries';
import type { LastAttempt } from '../../../shared/store/jobStore';

const attempt = (line: number, startedAt: number, extra: Partial<LastAttempt> = {}): LastAttempt => ({
  line,
  dnis: `1212555010${line}`,
  target: 'queue:1',
  raw: [`1212555010${line}`],
  receives: 3,
  startedAt,
  ...extra,
});

describe('deadDeliveryOutcomes', () => {
  const visibilityMs = 30_000;
  const now = 100_000;

  it('records a last delivery whose visibility timeout has passed without an outcome as a gave-up failure', () => {
    expect(deadDeliveryOutcomes([attempt(2, now - visibilityMs)], new Set(), visibilityMs, now)).toEqual([
      {
        line: 2,
        dnis: '12125550102',
        outcome: 'failed',
        detail: 'gave up after 3 attempts: the last attempt ended without an outcome (the worker crashed or timed out); the message is in the work DLQ',
        target: 'queue:1',
        raw: ['12125550102'],
        gaveUp: true,
      },
    ]);
  });

  it('leaves a delivery that may still be running, a row with an outcome, and a row handed on as a fresh message', () => {
    const attempts = [attempt(2, now - visibilityMs + 1), attempt(3, 0), attempt(4, 0, { withdrawnAt: 10 }), attempt(5, 0)];
    expect(deadDeliveryOutcomes(attempts, new Set([3]), visibilityMs, now).map((w) => w.line)).toEqual([5]);
  });
});
