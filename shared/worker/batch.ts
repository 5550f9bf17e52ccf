import { type ReassignMessage, ReassignMessageSchema } from '../contracts';
import { groupBy } from './groupBy';
import { logger } from '../observability/powertools';
import { reassignNumber, type ReassignContext } from './reassign';
import type { WorkerDependencies as Dependencies } from '../dependencies';
import type { QueueRecord, RecordVerdict } from '../lambda/sqsRecords';
import { describeFailure, type InvocationLimits } from './invocation';
import { syncRowMessages } from './rows';
import { withBudgetPriority } from '../ringcx/requestBudget';

/**
 * Every queue feeds the same worker: file rows go through the batch path; reassignment requests
 * (the priority queue) one request per number, through the same planner and sync engine.
 *
 * Nothing here throws for a whole batch: a failure that is not a verdict on a row (DynamoDB,
 * configuration, a bug) becomes a `retry` verdict for the records it touched, so each one keeps its
 * own receive count and reaches its own outcome, instead of the batch failing as one.
 */
export async function syncQueueRecords(rt: Dependencies, records: QueueRecord[], ctx: ReassignContext, limits: InvocationLimits = {}): Promise<Map<string, RecordVerdict>> {
  const rows: QueueRecord[] = [];
  const requests: { record: QueueRecord; message: ReassignMessage }[] = [];
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
    requests.push({ record, message: parsed.data });
  }
  // Requests for different numbers go side by side, so the last of a batch does not wait for the
  // others' round trips. Each is one number's move, admitted against the deadline with the calls
  // of the others still queued in this process counted (the budget's wait estimate includes every
  // waiter). Requests for one number go one after the other, in the order they came.
  const byNumber = [...groupBy(requests, (r) => r.message.dnis).values()];
  for (let i = 0; i < byNumber.length; i += REASSIGNMENTS_AT_ONCE) {
    await Promise.all(
      byNumber.slice(i, i + REASSIGNMENTS_AT_ONCE).map(async (group) => {
        for (const { record, message } of group) verdicts.set(record.messageId, await reassignOne(rt, record, message, ctx, limits));
      }),
    );
  }
  if (rows.length > 0) {
    try {
      for (const [id, verdict] of await withBudgetPriority('import', () => syncRowMessages(rt, rows, limits))) verdicts.set(id, verdict);
    } catch (error) {
      logger.error('row batch will be retried', { rows: rows.length, error: describeFailure(error) });
      for (const record of rows) if (!verdicts.has(record.messageId)) verdicts.set(record.messageId, { status: 'retry', reason: describeFailure(error) });
    }
  }
  return verdicts;
}

/** At most this many reassignment requests of one batch in flight (the priority queue's batches are 5). */
const REASSIGNMENTS_AT_ONCE = 5;

async function reassignOne(rt: Dependencies, record: QueueRecord, message: ReassignMessage, ctx: ReassignContext, limits: InvocationLimits): Promise<RecordVerdict> {
  try {
    // A reassignment goes ahead of imports and the export when the tenant's budget is short.
    return await withBudgetPriority('reassign', () => reassignNumber(rt, message, record.receiveCount, ctx, limits));
  } catch (error) {
    logger.error('reassignment request will be retried', { requestId: message.requestId, error: describeFailure(error) });
    return { status: 'retry', reason: describeFailure(error) };
  }
}

function peekKind(body: string): unknown {
  try {
    return (JSON.parse(body) as { kind?: unknown })?.kind;
  } catch {
    return undefined;
  }
}
