/** The job table's shape, shared by the CDK stack and the local runner so both create the same table. */
export const JOB_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB removes expired job rows. Ledger items never set it. */
  ttlAttribute: 'expiresAt',
  /**
   * The partition of the sweeper's list (unfinished jobs, unsent answers): the only items ever
   * deleted, so the stack grants DeleteItem on this partition alone.
   */
  openListPartition: 'OPEN',
} as const;

/**
 * The RingCX budget's table: one fixed name per account and region (infra/budgetStack.ts), so every
 * stage there shares the tenant's budget. Same keys and TTL attribute as the job table.
 */
export const RINGCX_BUDGET_TABLE_NAME = 'dnis-sync-ringcx-budget';
