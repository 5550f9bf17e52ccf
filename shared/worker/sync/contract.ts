import type { CurrentStateRead } from '../../ringcx/currentState';
import type { DesiredRow, Mode, Outcome, Target } from '../../domain/desiredRow';
import type { Action, CurrentAssignment } from '../../domain/planner';
import type { StateSnapshot } from '../../domain/stateFingerprint';
import type { IntentStore } from '../../store/intents';
import type { CallPace } from './budget';

/**
 * What the sync engine is asked and what it answers: one request per row (or reassignment), one
 * result per request, and the options of one call.
 */

export interface SyncRequest {
  /** Unique per request within the call, e.g. the SQS message id. */
  key: string;
  row: DesiredRow;
  mode: Mode;
  /**
   * A precondition: where the number must route for the change to go ahead (null: unassigned;
   * undefined: no precondition). Checked against every read, and with a fresh read just before a
   * move or removal is written. When it does not hold nothing is written and the row is `stale`.
   */
  expectedCurrent?: Target | null;
  /**
   * A saved plan's precondition: the whole state (pool fields, assignment, active flags) the row was
   * planned against, and the actions planned. Checked against every read: the first read of each
   * round must match it exactly (and re-plan to the same actions), and the fresh read just before a
   * move or removal must show the assignment that read saw. Otherwise the outcome is `stale` and
   * nothing is written.
   */
  expectedState?: { snapshot: StateSnapshot; fingerprint: string; actions: unknown[] };
  /** Names this row's intent record (rowIntentKey / requestIntentKey), used with SyncOptions.intents. */
  intentKey?: string;
}

export type SyncResult =
  | {
      status: 'done';
      outcome: Outcome;
      detail: string;
      /** Where the number routed before, and where it routes now (for audit and events). */
      before: CurrentAssignment | null;
      after: Target | null;
      /** The precondition (`expectedCurrent`) did not hold; nothing was written. */
      stale?: true;
      /** For a number moved by removing then assigning: ms between the two answers, unrouted meanwhile. */
      unroutedMs?: number;
      /** Plan mode: the actions planned and the state they were planned against, for a saved plan. */
      planned?: { actions: Action[]; state: StateSnapshot };
    }
  | {
      status: 'retry';
      reason: string;
      /**
       * Not a failure: the row's next unit of work was not started (the deadline, or another row
       * for the same number in the batch), so no number is mid-change and the row can be handed on
       * at once rather than wait for its message's visibility timeout.
       */
      deferred?: true;
    };

export interface SyncOptions {
  maxArray: number;
  maxRows: number;
  reassignMode: 'unassign-first' | 'direct';
  /** Time left in the invocation. Without it nothing is held back for a deadline. */
  remainingMs?: () => number;
  /** Time kept free after the last RingCX call; see InvocationDeadline. */
  deadlineMarginMs?: number;
  /** How long calls will take; by default the client's own limiter and observed latency. */
  pace?: CallPace;
  /** Intent records, so outcomes stay true when an answer is lost or a delivery repeats. */
  intents?: IntentStore;
  /**
   * A read of these numbers the caller made just before (a reassignment checks its expectation
   * on it): the first round plans on it instead of searching again. It is no staler than the
   * engine's own first read would be, and the write is guarded the same way either way (an
   * expectation is checked again on a fresh read just before a move; a 409 earns a new round).
   */
  firstRead?: CurrentStateRead;
  /** Clock for the unrouted gap of moves. */
  now?: () => number;
}
