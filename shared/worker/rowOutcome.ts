import type { RowMessage } from '../contracts';
import { describeTarget } from '../domain/desiredRow';
import { fingerprintOf } from '../domain/stateFingerprint';
import type { LastAttempt, OutcomeWrite } from '../store/jobStore';
import type { RecordVerdict } from '../lambda/sqsRecords';
import type { RowDelivery } from './rowMessage';
import type { SyncResult } from './sync/contract';

/** After these RingCX holds what the row declares, so the ledger records the row. */
const OUTCOMES_WHERE_RINGCX_HOLDS_THE_ROW = new Set(['created', 'updated', 'assigned', 'reassigned', 'unassigned', 'unchanged']);
const WRITE_OUTCOMES = new Set(['created', 'updated', 'assigned', 'reassigned', 'unassigned']);

type DoneResult = Extract<SyncResult, { status: 'done' }>;

export interface DeliveryLimits {
  /** The work queue's maxReceiveCount: the delivery at this count is the row's last. */
  maxReceiveCount: number;
  /** How often a row not started in time may be handed on as a fresh message. */
  maxDeferrals: number;
}

export const isLastDelivery = (record: RowDelivery['record'], limits: Pick<DeliveryLimits, 'maxReceiveCount'>) => record.receiveCount >= limits.maxReceiveCount;

/**
 * A row on its last allowed delivery is marked before the work: if the invocation dies (crash,
 * timeout), the sweeper finds the mark without an outcome and settles the row with this.
 */
export function lastAttemptOf({ record, message }: RowDelivery, startedAt: number): LastAttempt {
  return { line: message.line, dnis: message.row.dnis, target: describeTarget(message.row.target), raw: message.raw, receives: record.receiveCount, startedAt };
}

/** What becomes of one row after the sync engine's answer. */
export type RowSettlement =
  /** Not started in time: goes back on the queue as a fresh message. */
  | { kind: 'hand-on'; reason: string }
  /** Left for redelivery, nothing recorded. */
  | { kind: 'retry'; reason: string }
  /** Final: the outcome is recorded, and the message ends as `verdict`. */
  | { kind: 'record'; write: OutcomeWrite; verdict: RecordVerdict };

export function settleRow({ record, message }: RowDelivery, answer: SyncResult, limits: DeliveryLimits, replacesGaveUp: boolean): RowSettlement {
  let result = answer;
  if (result.status === 'retry' && result.deferred) {
    const deferrals = message.deferrals ?? 0;
    if (deferrals < limits.maxDeferrals) return { kind: 'hand-on', reason: result.reason };
    // Handed on as often as allowed: from here the row takes the ordinary retry path and, if it
    // still never fits, ends as failed on its last receive with this reason.
    result = { ...result, reason: `${result.reason} (not started in ${deferrals + 1} invocations)` };
  }
  if (result.status === 'retry' && !isLastDelivery(record, limits)) return { kind: 'retry', reason: result.reason };
  const write = outcomeWriteFor(message, result, record.receiveCount);
  if (replacesGaveUp) write.replacesGaveUp = true;
  // The drift report must know that a file declared this number even when the row changed nothing.
  if (message.mode === 'apply' && !write.ledger) write.declares = true;
  // A gave-up row is recorded so the job can finish, and still goes to the DLQ for redrive.
  return { kind: 'record', write, verdict: result.status === 'retry' ? { status: 'retry', reason: result.reason } : { status: 'done' } };
}

/**
 * The outcome to record for a row: the engine's verdict, or, for a row still failing on its last
 * delivery, a gave-up failure. A successful apply also carries the desired state for the ledger.
 */
export function outcomeWriteFor(message: RowMessage, result: SyncResult, receiveCount: number): OutcomeWrite {
  const base = { line: message.line, dnis: message.row.dnis };
  if (result.status === 'retry') {
    return {
      ...base,
      outcome: 'failed',
      detail: `gave up after ${receiveCount} attempts: ${result.reason}`,
      target: describeTarget(message.row.target),
      raw: message.raw,
      gaveUp: true,
    };
  }
  return {
    ...base,
    outcome: result.outcome,
    detail: result.detail,
    target: describeTarget(message.row.target),
    raw: message.raw,
    ...(message.mode === 'apply' && OUTCOMES_WHERE_RINGCX_HOLDS_THE_ROW.has(result.outcome)
      ? {
          ledger: {
            row: message.row,
            target: message.row.action === 'unassign' ? null : message.row.target,
            targetDeclared: message.row.action === 'unassign' || message.row.target !== null,
          },
        }
      : {}),
    ...(result.planned ? { planned: savedRowPlan(message.row, result.planned) } : {}),
  };
}

function savedRowPlan(row: RowMessage['row'], planned: NonNullable<DoneResult['planned']>): NonNullable<OutcomeWrite['planned']> {
  return { row, actions: planned.actions as unknown as Record<string, unknown>[], state: planned.state, fingerprint: fingerprintOf(planned.state) };
}

/** An approved plan's change that wrote to RingCX goes into the number's audit trail. */
export function isAuditedPlannedChange(message: RowMessage | undefined, write: OutcomeWrite, result: SyncResult | undefined): result is DoneResult {
  return Boolean(message?.planned) && result?.status === 'done' && WRITE_OUTCOMES.has(write.outcome);
}

/**
 * A batch's RingCX calls, attributed to its jobs in proportion to their rows. The last job takes
 * what rounding left, so the parts always add up to the calls made.
 */
export function attributeCalls(callsUsed: number, rowsByJob: [jobId: string, rows: number][]): Map<string, number> {
  const totalRows = rowsByJob.reduce((n, [, rows]) => n + rows, 0) || 1;
  const calls = new Map<string, number>();
  let callsLeft = callsUsed;
  for (const [index, [jobId, rows]] of rowsByJob.entries()) {
    const share = index === rowsByJob.length - 1 ? callsLeft : Math.round((callsUsed * rows) / totalRows);
    callsLeft -= share;
    calls.set(jobId, share);
  }
  return calls;
}
