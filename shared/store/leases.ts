import type { DynamoTable } from './dynamo';

/*
 *   LEASE#<name> / META   a lease that at most one holder has at a time (the token refresher's,
 *                         the sweeper's); it never expires, a released lease is one that ran out
 */

const leaseKey = (name: string) => ({ pk: `LEASE#${name}`, sk: 'META' });

export class Leases {
  constructor(private readonly table: DynamoTable) {}

  /** False while someone else's lease is still running. */
  async acquireLease(name: string, owner: string, leaseMs: number): Promise<boolean> {
    const now = this.table.now();
    const acquired = await this.table.putIf({
      Item: { ...leaseKey(name), owner, until: now + leaseMs },
      ConditionExpression: 'attribute_not_exists(pk) OR #until < :now',
      ExpressionAttributeNames: { '#until': 'until' },
      ExpressionAttributeValues: { ':now': now },
    });
    return acquired.written;
  }

  /** Best effort: a lease this owner no longer holds is left alone, and one not released runs out. */
  async releaseLease(name: string, owner: string): Promise<void> {
    await this.table
      .updateItem({
        Key: leaseKey(name),
        UpdateExpression: 'SET #until = :zero',
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#until': 'until', '#owner': 'owner' },
        ExpressionAttributeValues: { ':zero': 0, ':owner': owner },
      })
      .catch(() => undefined);
  }
}
