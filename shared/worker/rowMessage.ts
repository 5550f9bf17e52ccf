import { type RowMessage, RowMessageSchema } from '../contracts';
import { SnapshotSchema } from '../domain/savedPlan';
import type { StateSnapshot } from '../domain/stateFingerprint';
import { rowIntentKey } from '../store/intents';
import type { QueueRecord } from '../lambda/sqsRecords';
import type { SyncRequest } from './sync/contract';

/** A row message together with the delivery that brought it. */
export interface RowDelivery {
  record: QueueRecord;
  message: RowMessage;
}

/** A row's identity across deliveries: its job and its line in the file. */
export const rowKey = (message: Pick<RowMessage, 'jobId' | 'line'>) => `${message.jobId}#${message.line}`;

export function parseRowMessage(body: string): { ok: true; message: RowMessage } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const parsed = RowMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || 'body'}: ${issue?.message}` };
  }
  if (parsed.data.planned && !SnapshotSchema.safeParse(parsed.data.planned.state).success) return { ok: false, reason: 'planned.state: not a state snapshot' };
  return { ok: true, message: parsed.data };
}

/** What to do with one delivery of a job's row, given the outcomes already recorded for the job. */
export type DeliveryTriage =
  /** Sync the row; `replacesGaveUp` when its recorded outcome is a gave-up failure (a DLQ redrive). */
  | { kind: 'sync'; delivery: RowDelivery; replacesGaveUp: boolean }
  /** The row already has a final outcome (a duplicate delivery): nothing left to do. */
  | { kind: 'already-recorded'; delivery: RowDelivery; outcome: string }
  /** A second copy of a row in the same batch: the first copy speaks for both. */
  | { kind: 'repeated'; delivery: RowDelivery };

/** One job's deliveries, in their order, sorted into work, duplicates and redrives of gave-up rows. */
export function triageJobDeliveries(deliveries: RowDelivery[], recorded: Map<number, { outcome: string; gaveUp: boolean }>): DeliveryTriage[] {
  const taken = new Set<string>();
  return deliveries.map((delivery): DeliveryTriage => {
    const prior = recorded.get(delivery.message.line);
    const key = rowKey(delivery.message);
    if (prior && !prior.gaveUp) return { kind: 'already-recorded', delivery, outcome: prior.outcome };
    if (taken.has(key)) return { kind: 'repeated', delivery };
    taken.add(key);
    return { kind: 'sync', delivery, replacesGaveUp: prior?.gaveUp === true };
  });
}

/** Rows handed on before are served first, so a row cannot be deferred behind fresh rows forever. */
export function mostDeferredFirst(deliveries: RowDelivery[]): RowDelivery[] {
  return [...deliveries].sort((a, b) => (b.message.deferrals ?? 0) - (a.message.deferrals ?? 0));
}

export function syncRequestFor({ record, message }: RowDelivery): SyncRequest {
  return {
    key: record.messageId,
    row: message.row,
    mode: message.mode,
    intentKey: rowIntentKey(message.jobId, message.line),
    ...(message.planned ? { expectedState: { snapshot: message.planned.state as unknown as StateSnapshot, fingerprint: message.planned.fingerprint, actions: message.planned.actions } } : {}),
  };
}
