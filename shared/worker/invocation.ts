/** What the invocation lends the work: how long it has left. */
export interface InvocationLimits {
  /** Milliseconds left in this invocation (Lambda's getRemainingTimeInMillis). */
  remainingMs?: () => number;
}

/**
 * Any failure that is not RingCX's verdict on a row (credentials outage, configuration, a bug) in
 * words for the report. Bounded, and built from the error's own message, which never holds tokens.
 */
export function describeFailure(error: unknown): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return `${name}: ${message}`.slice(0, 300);
}
