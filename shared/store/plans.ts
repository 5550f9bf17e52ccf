import { aliases, type DynamoTable, type Retention } from './dynamo';

/**
 * PLAN#<id> / META: where a saved plan is, until when it may be applied, and (once) which job
 * applied it, on whose approval. The conditional write on `appliedByJob` makes a plan apply once.
 */
export interface PlanRecord {
  planId: string;
  planKey: string;
  planJobId: string;
  createdAt: string;
  expiresAt: string;
  appliedByJob?: string;
  approval?: { approvedBy: string; reason: string; key: string; versionId?: string | undefined; at: string };
}

const planKey = (planId: string) => ({ pk: `PLAN#${planId}`, sk: 'META' });

export class Plans {
  constructor(
    private readonly table: DynamoTable,
    private readonly retention: Retention,
  ) {}

  /**
   * Records where a saved plan is; a rewritten plan (a redrive) keeps the record of its apply. The
   * plan's own expiry is stored as `planExpiresAt`: `expiresAt` is the table's TTL attribute.
   */
  async putPlanRecord(record: Omit<PlanRecord, 'appliedByJob' | 'approval'>): Promise<void> {
    await this.table.updateItem({
      Key: planKey(record.planId),
      UpdateExpression: 'SET #kind = :kind, #planId = :planId, #planKey = :planKey, #planJobId = :planJobId, #createdAt = :createdAt, #expiresAt = :expiresAt, #ttl = :ttl',
      ExpressionAttributeNames: aliases('kind', 'planId', 'planKey', 'planJobId', 'createdAt', { '#expiresAt': 'planExpiresAt', '#ttl': 'expiresAt' }),
      ExpressionAttributeValues: {
        ':kind': 'plan',
        ':planId': record.planId,
        ':planKey': record.planKey,
        ':planJobId': record.planJobId,
        ':createdAt': record.createdAt,
        ':expiresAt': record.expiresAt,
        ':ttl': this.table.expiresIn(this.retention.retentionDays),
      },
    });
  }

  async getPlanRecord(planId: string): Promise<PlanRecord | undefined> {
    const item = await this.table.getItem<PlanRecord & { planExpiresAt: string }>(planKey(planId));
    if (!item) return undefined;
    const { planExpiresAt, ...rest } = item;
    return { ...rest, expiresAt: planExpiresAt };
  }

  /**
   * The one apply of a plan: the first approval's job takes it (a re-run of that same job keeps it);
   * any later one learns which job did.
   */
  async claimPlanApply(planId: string, jobId: string, approval: NonNullable<PlanRecord['approval']>): Promise<{ status: 'claimed' } | { status: 'applied'; jobId: string; approval?: PlanRecord['approval'] }> {
    const claimed = await this.table.updateIf({
      Key: planKey(planId),
      UpdateExpression: 'SET #appliedByJob = :job, #approval = if_not_exists(#approval, :approval)',
      ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#appliedByJob) OR #appliedByJob = :job)',
      ExpressionAttributeNames: aliases('appliedByJob', 'approval'),
      ExpressionAttributeValues: { ':job': jobId, ':approval': approval },
    });
    if (claimed.written) return { status: 'claimed' };
    const record = await this.getPlanRecord(planId);
    return { status: 'applied', jobId: record?.appliedByJob ?? 'unknown', ...(record?.approval ? { approval: record.approval } : {}) };
  }
}
