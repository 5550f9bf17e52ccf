import type { RingCxClient } from '../../ringcx/client';
import { arrivesWithin } from '../../ringcx/callDeadline';
import type { InvocationDeadline } from './budget';
import type { SyncOptions } from './contract';

/**
 * Takes a move's turns: the removal's, and one for each attempt its assignment is priced for
 * (InvocationDeadline.assignmentAttemptsPriced), so a retried assignment never waits in the budget
 * queue (behind a 429 pause, say) while its number is unrouted. Turns left over go to the next
 * calls. Waits at most until only the deadline's margin is left: by then the move cannot fit
 * anyway, and waiting on would carry the invocation past its deadline.
 */
export async function reserveTurns(client: RingCxClient, options: SyncOptions, deadline: InvocationDeadline | undefined): Promise<'ready' | 'late'> {
  const reserving = client.transport?.limiter?.reserve(1 + (deadline?.assignmentAttemptsPriced() ?? 1));
  if (!reserving) return 'ready';
  if (!deadline || !options.remainingMs) {
    await reserving;
    return 'ready';
  }
  // Turns that come after all stay with this process's budget for its next calls.
  return (await arrivesWithin(reserving, options.remainingMs() - deadline.marginMs)) === 'arrived' ? 'ready' : 'late';
}
