import { aliases, type DynamoTable } from './dynamo';
import { type JobMeta, jobKey } from './jobs';
import { closedJobEntry } from './openList';

/*
 * The records that finish a job, on its JOB#<id> / META item: the report lease (one writer of the
 * reports at a time), `completed` with the completion event owed (outbox), the event sent, and the
 * job taken off the sweeper's list. shared/jobs/completion.ts runs them in order.
 */

type OwedEvent = { detailType: string; detail: Record<string, unknown> };

export class JobCompletion {
  constructor(private readonly table: DynamoTable) {}

  /**
   * Claims the right to write the job's reports: every accepted row has an outcome and no report
   * yet reflects the latest one. Exactly one caller wins; a writer that dies loses its lease.
   */
  async tryStartReport(jobId: string, leaseMs = 120_000): Promise<JobMeta | undefined> {
    const now = this.table.now();
    const started = await this.table.updateIf({
      Key: jobKey(jobId),
      UpdateExpression: 'SET #reportLease = :lease',
      ConditionExpression: '#status IN (:running, :stalled, :completed) AND #processed >= #accepted AND #version > #reportedVersion AND (attribute_not_exists(#reportLease) OR #reportLease < :now)',
      ExpressionAttributeNames: aliases('status', 'reportLease', 'processed', 'accepted', 'reportedVersion', { '#version': 'outcomeVersion' }),
      ExpressionAttributeValues: { ':running': 'running', ':stalled': 'stalled', ':completed': 'completed', ':now': now, ':lease': now + leaseMs },
      ReturnValues: 'ALL_NEW',
    });
    return started.written ? (started.attributes as unknown as JobMeta) : undefined;
  }

  /**
   * The reports for `version` are written: the job is completed, and the completion event is
   * recorded as owed before anyone tries to send it, so a refused PutEvents cannot keep a job open.
   */
  async finishReport(jobId: string, version: number, event?: OwedEvent): Promise<void> {
    await this.table.updateItem({
      Key: jobKey(jobId),
      UpdateExpression: `SET #status = :completed, #reportedVersion = :version, #completedAt = if_not_exists(#completedAt, :at)${event ? ', #pendingEvent = :event' : ''} REMOVE #reportLease`,
      ConditionExpression: '#status IN (:running, :stalled, :completed)',
      ExpressionAttributeNames: aliases('status', 'reportedVersion', 'completedAt', 'reportLease', ...(event ? ['pendingEvent'] : [])),
      ExpressionAttributeValues: {
        ':completed': 'completed',
        ':running': 'running',
        ':stalled': 'stalled',
        ':version': version,
        ':at': new Date(this.table.now()).toISOString(),
        ...(event ? { ':event': { ...event, version } } : {}),
      },
    });
  }

  /** Records the event a refused file owes (its status is already `failed`). */
  async setPendingEvent(jobId: string, event: OwedEvent): Promise<void> {
    await this.table.updateItem({
      Key: jobKey(jobId),
      UpdateExpression: 'SET #pendingEvent = :event',
      ExpressionAttributeNames: aliases('pendingEvent'),
      ExpressionAttributeValues: { ':event': { ...event, version: 0 } },
    });
  }

  /** The event for `version` was sent; a newer pending event (a rewritten report) stays. */
  async clearPendingEvent(jobId: string, version: number): Promise<void> {
    await this.table.updateIf({
      Key: jobKey(jobId),
      UpdateExpression: 'REMOVE #pendingEvent',
      ConditionExpression: '#pendingEvent.#version = :version',
      ExpressionAttributeNames: aliases('pendingEvent', 'version'),
      ExpressionAttributeValues: { ':version': version },
    });
  }

  /**
   * Takes a finished job off the sweeper's list: completed or refused, reports current, event sent.
   * One transaction, so a redrive that reopens the job meanwhile keeps it on the list.
   */
  async closeJobIfSettled(jobId: string): Promise<boolean> {
    const closed = await this.table.transactIf([
      {
        ConditionCheck: {
          Key: jobKey(jobId),
          ConditionExpression: '#status IN (:completed, :failed) AND attribute_not_exists(#pendingEvent) AND #version <= #reportedVersion AND attribute_not_exists(#reportLease)',
          ExpressionAttributeNames: aliases('status', 'pendingEvent', 'reportedVersion', 'reportLease', { '#version': 'outcomeVersion' }),
          ExpressionAttributeValues: { ':completed': 'completed', ':failed': 'failed' },
        },
      },
      closedJobEntry(jobId),
    ]);
    return closed.written;
  }
}
