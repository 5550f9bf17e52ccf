import { type AuditEntry, auditItem } from './audit';
import { aliases, type DynamoTable, type Retention, type TransactItem } from './dynamo';
import { type LedgerWrite, ledgerUpdate } from './ledger';
import { closedRequestEntry, openRequestEntry } from './openList';

/*
 *   REQ#<id> / META   a reassignment request's outcome and the answer owed to its caller (outbox)
 *
 * The result, its audit entry, its ledger entry and its place on the sweeper's list are written in
 * one transaction; the answer is sent after, and the sweeper sends it again until it is.
 */

/** A reassignment request's recorded result and the answer owed to the caller. */
export interface RequestRecord {
  requestId: string;
  dnis: string;
  outcome: string;
  detail: string;
  at: string;
  /** Recorded on the last allowed receive after transient failures; a redrive processes it again. */
  gaveUp?: boolean;
  from: string | null;
  to: string | null;
  requestedBy: string;
  reason: string;
  apiCalls: number;
  answer: { detailType: string; detail: Record<string, unknown> };
  answerSent: boolean;
}

const requestKey = (requestId: string) => ({ pk: `REQ#${requestId}`, sk: 'META' });

export class Requests {
  constructor(
    private readonly table: DynamoTable,
    private readonly retention: Retention,
  ) {}

  /**
   * Records a request's result, its audit entry and (on success) its ledger entry in one
   * transaction, with the answer still owed (outbox). First write wins, except that a gave-up
   * result may be replaced by a redrive's real one. False when another delivery recorded first.
   */
  async recordRequestResult(
    record: Omit<RequestRecord, 'answerSent'>,
    audit: AuditEntry,
    ledger: { source: { jobId: string; line: number }; entry: LedgerWrite } | undefined,
    replacesGaveUp: boolean,
  ): Promise<boolean> {
    const { retentionDays, auditRetentionDays } = this.retention;
    const at = new Date(this.table.now()).toISOString();
    const items: TransactItem[] = [
      {
        Put: {
          Item: { ...requestKey(record.requestId), kind: 'request', ...record, answerSent: false, expiresAt: this.table.expiresIn(retentionDays) },
          ConditionExpression: replacesGaveUp ? '#gaveUp = :true' : 'attribute_not_exists(pk)',
          ...(replacesGaveUp ? { ExpressionAttributeNames: aliases('gaveUp'), ExpressionAttributeValues: { ':true': true } } : {}),
        },
      },
      { Put: { Item: auditItem(this.table, auditRetentionDays, audit) } },
      openRequestEntry(this.table, retentionDays, record.requestId),
    ];
    if (ledger) items.push({ Update: ledgerUpdate(ledger.source.jobId, ledger.source.line, ledger.entry, at) });
    return (await this.table.transactIf(items)).written;
  }

  async getRequest(requestId: string): Promise<RequestRecord | undefined> {
    return this.table.getItem<RequestRecord>(requestKey(requestId));
  }

  /** The caller has its answer: the request leaves the sweeper's list. */
  async markAnswerSent(requestId: string): Promise<void> {
    await this.table.transact([
      { Update: { Key: requestKey(requestId), UpdateExpression: 'SET #sent = :true', ExpressionAttributeNames: { '#sent': 'answerSent' }, ExpressionAttributeValues: { ':true': true } } },
      closedRequestEntry(requestId),
    ]);
  }
}
