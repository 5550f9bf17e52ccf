import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { BudgetControl, BudgetControlField, BudgetLedger, SliceCap, SliceTake } from '../ringcx/budgetSlices';
import { DynamoTable } from './dynamo';
import { JOB_TABLE } from './table';

/*
 * The tenant-wide RingCX budget's counters (SharedBudget in shared/ringcx takes tokens through
 * this; the rules of who may take what live there, this file only adds under a condition):
 *
 *   BUDGET#<tenantKey> / SLICE#<k>   requests taken from slice k of the budget (`n`), of which
 *                                    exports took `e`; a few minutes after its slice it expires
 *   BUDGET#<tenantKey> / CONTROL     pausedUntil (a 429 seen anywhere), reassignWantedUntil and
 *                                    exportWantedUntil (someone waits at that priority), epoch ms,
 *                                    each only ever moved forward
 */

export interface BudgetTableShape {
  partitionKey: string;
  sortKey: string;
  ttlAttribute: string;
}

/** A counter as a number, even when the item came back in DynamoDB's own `{ N: '3' }` form. */
function counter(item: unknown, name: 'n' | 'e'): number {
  const value = (item as Record<string, unknown> | undefined)?.[name];
  if (typeof value === 'number') return value;
  if (value && typeof value === 'object' && 'N' in value) return Number((value as { N: string }).N);
  return 0;
}
const counts = (item: unknown) => ({ count: counter(item, 'n'), exportCount: counter(item, 'e') });

export class DynamoBudgetLedger implements BudgetLedger {
  private readonly table: DynamoTable;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly shape: BudgetTableShape = JOB_TABLE,
  ) {
    this.table = new DynamoTable(db, tableName);
  }

  private key(tenantKey: string, sortKey: string): Record<string, string> {
    return { [this.shape.partitionKey]: `BUDGET#${tenantKey}`, [this.shape.sortKey]: sortKey };
  }

  /**
   * One conditional add. A refusal carries the counters as they stood (ReturnValuesOnConditionCheckFailure),
   * so taking what is left costs one more request, not a read and a write. DynamoDB's document
   * client leaves that item in its raw attribute-value form, hence `counter`.
   */
  async take(tenantKey: string, slice: number, tokens: number, cap: SliceCap, exporting: boolean, expiresAtSeconds: number): Promise<SliceTake> {
    const exportLimit = exporting && cap.exports !== undefined;
    try {
      const result = await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(tenantKey, `SLICE#${slice}`),
          UpdateExpression: `SET n = if_not_exists(n, :zero) + :tokens, #ttl = :ttl${exporting ? ', e = if_not_exists(e, :zero) + :tokens' : ''}`,
          ConditionExpression: `(attribute_not_exists(n) OR n <= :room)${exportLimit ? ' AND (attribute_not_exists(e) OR e <= :exportRoom)' : ''}`,
          ExpressionAttributeNames: { '#ttl': this.shape.ttlAttribute },
          ExpressionAttributeValues: {
            ':zero': 0,
            ':tokens': tokens,
            ':room': cap.total - tokens,
            ':ttl': expiresAtSeconds,
            ...(exportLimit ? { ':exportRoom': (cap.exports as number) - tokens } : {}),
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { taken: true, ...counts(result.Attributes) };
    } catch (error) {
      if ((error as Error)?.name !== 'ConditionalCheckFailedException') throw error;
      return { taken: false, ...counts((error as { Item?: unknown }).Item) };
    }
  }

  async record(tenantKey: string, slice: number, tokens: number, expiresAtSeconds: number): Promise<void> {
    await this.table.updateItem({
      Key: this.key(tenantKey, `SLICE#${slice}`),
      UpdateExpression: 'SET n = if_not_exists(n, :zero) + :tokens, #ttl = :ttl',
      ExpressionAttributeNames: { '#ttl': this.shape.ttlAttribute },
      ExpressionAttributeValues: { ':zero': 0, ':tokens': tokens, ':ttl': expiresAtSeconds },
    });
  }

  async readControl(tenantKey: string): Promise<BudgetControl> {
    const item = await this.table.getItem<Partial<BudgetControl>>(this.key(tenantKey, 'CONTROL'));
    return {
      pausedUntil: item?.pausedUntil ?? 0,
      reassignWantedUntil: item?.reassignWantedUntil ?? 0,
      exportWantedUntil: item?.exportWantedUntil ?? 0,
    };
  }

  /** A field already further ahead (a longer pause written elsewhere) is left as it is. */
  async extendControl(tenantKey: string, field: BudgetControlField, until: number, expiresAtSeconds: number): Promise<void> {
    await this.table.updateIf({
      Key: this.key(tenantKey, 'CONTROL'),
      UpdateExpression: 'SET #field = :until, #ttl = :ttl',
      ConditionExpression: 'attribute_not_exists(#field) OR #field < :until',
      ExpressionAttributeNames: { '#field': field, '#ttl': this.shape.ttlAttribute },
      ExpressionAttributeValues: { ':until': until, ':ttl': expiresAtSeconds },
    });
  }

}
