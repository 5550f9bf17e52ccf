import type { DynamoTable, Retention } from './dynamo';

/*
 *   JOB#<id> / TRY#<line>   a row's last allowed delivery, written before the work starts, so the
 *                           sweeper can settle a row whose last delivery died without an outcome
 */

/** A row's last allowed delivery, recorded before the work so its outcome can be settled if it dies. */
export interface LastAttempt {
  line: number;
  dnis: string;
  target: string;
  raw: string[];
  receives: number;
  /** Epoch ms when the attempt started. */
  startedAt: number;
  /**
   * Epoch ms when the delivery handed the row on as a fresh message without starting it (a
   * deadline deferral): the row is alive elsewhere, so the sweeper must not settle it.
   */
  withdrawnAt?: number;
}

const attemptKey = (jobId: string, line: number) => ({ pk: `JOB#${jobId}`, sk: `TRY#${String(line).padStart(10, '0')}` });

export class LastAttempts {
  constructor(
    private readonly table: DynamoTable,
    private readonly retention: Retention,
  ) {}

  /**
   * Marks rows as being on their last allowed delivery, before the work starts. A delivery that
   * then dies (crash, timeout) leaves this record and no outcome; the sweeper settles the row.
   */
  async recordLastAttempts(jobId: string, attempts: LastAttempt[]): Promise<void> {
    const items = attempts.map((attempt) => ({ ...attemptKey(jobId, attempt.line), kind: 'attempt', ...attempt, expiresAt: this.table.expiresIn(this.retention.retentionDays) }));
    await this.table.batchPutItems('the attempt records', items);
  }

  /**
   * The rows' last-delivery marks no longer stand: their delivery handed them on as fresh messages.
   * A later last delivery of those messages marks them again (a Put, which clears this). A row
   * with no mark is left without one.
   */
  async withdrawLastAttempts(jobId: string, lines: number[], at = Date.now()): Promise<void> {
    for (const line of lines) {
      await this.table.updateIf({
        Key: attemptKey(jobId, line),
        UpdateExpression: 'SET withdrawnAt = :at',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':at': at },
      });
    }
  }

  lastAttempts(jobId: string): AsyncGenerator<LastAttempt> {
    return this.table.queryItems<LastAttempt>('pk = :pk AND begins_with(sk, :try)', { ':pk': `JOB#${jobId}`, ':try': 'TRY#' });
  }
}
