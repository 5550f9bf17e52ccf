import type { Target } from '../domain/desiredRow';
import type { DynamoTable, Retention } from './dynamo';

/*
 *   AUDIT#<dnis> / <time>#<request>   who moved a number, why, from where to where
 *
 * Audit entries answer "who moved this number" long after the job is gone, so they have their own
 * retention (unset: kept forever).
 */

export interface AuditEntry {
  dnis: string;
  requestId: string;
  at: string;
  /** As the caller asserted it in the event; `account` and `source` are what EventBridge vouches for. */
  requestedBy: string;
  reason: string;
  source: string;
  /** The AWS account that put the request on the bus. */
  account?: string | undefined;
  before: Target | null;
  after: Target | null;
  outcome: string;
  detail: string;
  /** Changes made by applying a saved plan: the plan, and the apply job. */
  planId?: string;
  jobId?: string;
}

/** The audit item for an entry; a request's result writes it in its own transaction. */
export function auditItem(table: DynamoTable, retentionDays: number | undefined, entry: AuditEntry): Record<string, unknown> {
  const expiry = retentionDays === undefined ? {} : { expiresAt: table.expiresIn(retentionDays) };
  return { pk: `AUDIT#${entry.dnis}`, sk: `${entry.at}#${entry.requestId}`, kind: 'audit', ...entry, ...expiry };
}

export class AuditTrail {
  constructor(
    private readonly table: DynamoTable,
    private readonly retention: Retention,
  ) {}

  /** Who changed a number's routing, why, from where to where, and when. */
  async audit(entry: AuditEntry): Promise<void> {
    await this.table.putItem({ Item: auditItem(this.table, this.retention.auditRetentionDays, entry) });
  }

  async auditTrail(dnis: string): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    for await (const entry of this.table.queryItems<AuditEntry>('pk = :pk', { ':pk': `AUDIT#${dnis}` })) entries.push(entry);
    return entries;
  }
}
