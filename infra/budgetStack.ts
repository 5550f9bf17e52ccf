import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { JOB_TABLE, RINGCX_BUDGET_TABLE_NAME } from '../shared/store/table';

// A fixed name, so every stage deployed in the account (and anything else running this code
// against the same tenant) takes from the same bucket: RingCX counts per tenant, not per stack.
export { RINGCX_BUDGET_TABLE_NAME };

/** DynamoDB actions the shared budget sends (shared/store/budgetSlices.ts). */
export const BUDGET_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:UpdateItem'] as const;

/**
 * One per account and region, deployed with (and before) the first stage. It holds only short-
 * lived counters keyed by a hash of the RingCX credential, which expire within minutes: there is
 * nothing to recover or to keep, so no backups and no retained data.
 */
export class RingCxBudgetStack extends Stack {
  readonly table: dynamodb.TableV2;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.table = new dynamodb.TableV2(this, 'Budget', {
      tableName: RINGCX_BUDGET_TABLE_NAME,
      partitionKey: { name: JOB_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: JOB_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      timeToLiveAttribute: JOB_TABLE.ttlAttribute,
      // cdk-nag asks for it; counters that live minutes gain nothing from it, but it costs little.
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
