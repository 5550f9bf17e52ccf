import type { LastAttempt, OutcomeWrite } from '../store/jobStore';

/**
 * Rows marked as on their last allowed delivery, without an outcome, whose delivery's visibility
 * timeout has passed: the worker died during it (crash, timeout), and SQS has moved the message to
 * the DLQ. Each becomes a gave-up failure, so a redrive still replaces it with the real outcome. A
 * row handed on as a fresh message (its mark withdrawn) is alive elsewhere and is left alone.
 */
export function deadDeliveryOutcomes(attempts: LastAttempt[], recordedLines: { has(line: number): boolean }, visibilityMs: number, now: number): OutcomeWrite[] {
  return attempts
    .filter((a) => !recordedLines.has(a.line) && a.withdrawnAt === undefined && a.startedAt + visibilityMs <= now)
    .map((a) => ({
      line: a.line,
      dnis: a.dnis,
      outcome: 'failed',
      detail: `gave up after ${a.receives} attempts: the last attempt ended without an outcome (the worker crashed or timed out); the message is in the work DLQ`,
      target: a.target,
      raw: a.raw,
      gaveUp: true,
    }));
}
