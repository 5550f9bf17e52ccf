import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { AuditTrail } from '../../../shared/store/audit';
import { JobCompletion } from '../../../shared/store/jobCompletion';
import { Jobs } from '../../../shared/store/jobs';
import { JobStore } from '../../../shared/store/jobStore';
import { LastAttempts } from '../../../shared/store/lastAttempts';
import { Leases } from '../../../shared/store/leases';
import { Ledger } from '../../../shared/store/ledger';
import { OpenList } from '../../../shared/store/openList';
import { Plans } from '../../../shared/store/plans';
import { Requests } from '../../../shared/store/requests';
import { RowOutcomes } from '../../../shared/store/rowOutcomes';

const ENTITY_STORES = [Jobs, JobCompletion, RowOutcomes, LastAttempts, Ledger, AuditTrail, Requests, Plans, Leases, OpenList];

function recordingClient() {
  const sent: { command: string; input: Record<string, unknown> }[] = [];
  const client = {
    send: vi.fn(async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ command: command.constructor.name, input: command.input });
      return command.constructor.name === 'QueryCommand' ? { Items: [{ sk: 'JOB#J1' }, { sk: 'REQ#R1' }] } : {};
    }),
  } as unknown as DynamoDBDocumentClient;
  return { client, sent };
}

describe('the job store', () => {
  it('has every method of every entity store, and nothing else', () => {
    const methods = ENTITY_STORES.flatMap((Entity) => Object.getOwnPropertyNames(Entity.prototype).filter((name) => name !== 'constructor'));
    expect(Object.getOwnPropertyNames(JobStore.prototype).filter((name) => name !== 'constructor').sort()).toEqual([...methods].sort());
    expect(new Set(methods).size).toBe(methods.length);
  });

  it('calls the entity stores\' methods, on one table', async () => {
    const { client, sent } = recordingClient();
    const store = new JobStore(client, 'jobs', { retentionDays: 1, now: () => 5_000 });
    expect(await store.getJob('J1')).toBeUndefined();
    expect(await store.openItems()).toEqual({ jobs: ['J1'], requests: ['R1'] });
    expect(await store.acquireLease('sweeper', 'me', 1_000)).toBe(true);
    expect(sent).toEqual([
      { command: 'GetCommand', input: { TableName: 'jobs', Key: { pk: 'JOB#J1', sk: 'META' }, ConsistentRead: true } },
      { command: 'QueryCommand', input: { TableName: 'jobs', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'OPEN' } } },
      expect.objectContaining({ command: 'PutCommand', input: expect.objectContaining({ TableName: 'jobs', Item: { pk: 'LEASE#sweeper', sk: 'META', owner: 'me', until: 6_000 } }) }),
    ]);
  });

  it('can be spied on through its prototype, as the integration tests do to simulate a crash', async () => {
    const { client, sent } = recordingClient();
    const store = new JobStore(client, 'jobs', { retentionDays: 1 });
    const spy = vi.spyOn(JobStore.prototype, 'getJob').mockRejectedValueOnce(new Error('crash'));
    try {
      await expect(store.getJob('J1')).rejects.toThrow('crash');
      expect(await store.getJob('J1')).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    expect(sent).toHaveLength(1);
  });
});
