import { ReassignMessageSchema } from '../domain/reassignment';
import { logger } from '../framework/powertools';
import { processReassign, type ReassignContext } from '../reassign/processReassign';
import type { Runtime } from '../runtime';
import { processRowRecords, type QueueRecord, type RecordVerdict } from './processRows';

/**
 * Both queues feed the same worker: file rows go through the batch path; reassignment requests
 * (the priority queue) one at a time, through the same planner and sync engine.
 */
export async function processQueueRecords(rt: Runtime, records: QueueRecord[], ctx: ReassignContext): Promise<Map<string, RecordVerdict>> {
  const rows: QueueRecord[] = [];
  const verdicts = new Map<string, RecordVerdict>();
  for (const record of records) {
    const kind = peekKind(record.body);
    if (kind !== 'reassign') {
      rows.push(record);
      continue;
    }
    const parsed = ReassignMessageSchema.safeParse(JSON.parse(record.body));
    if (!parsed.success) {
      logger.error('unreadable reassignment message', { messageId: record.messageId, problem: parsed.error.issues[0]?.message });
      verdicts.set(record.messageId, { status: 'retry', reason: 'unreadable reassignment message' });
      continue;
    }
    verdicts.set(record.messageId, await processReassign(rt, parsed.data, record.receiveCount, ctx));
  }
  if (rows.length > 0) for (const [id, verdict] of await processRowRecords(rt, rows)) verdicts.set(id, verdict);
  return verdicts;
}

function peekKind(body: string): unknown {
  try {
    return (JSON.parse(body) as { kind?: unknown })?.kind;
  } catch {
    return undefined;
  }
}
