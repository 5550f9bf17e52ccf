import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoTable, TransactItem } from './dynamo';
import { JOB_TABLE } from './table';

/*
 *   OPEN / JOB#<id>   a job that is not finished: parsing, rows outstanding, reports or event owed
 *   OPEN / REQ#<id>   a reassignment request whose answer is not sent yet
 *
 * What the sweeper must look at. Small on purpose, so a sweep is one Query. These are the only
 * items ever deleted, so the stack grants DeleteItem on this partition alone: every delete in
 * shared/store is written here, with one of the two keys below.
 */
const OPEN_PK = JOB_TABLE.openListPartition;
const openJobKey = (jobId: string) => ({ pk: OPEN_PK, sk: `JOB#${jobId}` });
const openRequestKey = (requestId: string) => ({ pk: OPEN_PK, sk: `REQ#${requestId}` });

/** Puts a job on the list, in the transaction that starts (or reopens) it. */
export function openJobEntry(table: DynamoTable, retentionDays: number, jobId: string): TransactItem {
  return { Put: { Item: { ...openJobKey(jobId), kind: 'open', jobId, since: table.now(), expiresAt: table.expiresIn(retentionDays) } } };
}

/** Puts a request on the list, in the transaction that records its result. */
export function openRequestEntry(table: DynamoTable, retentionDays: number, requestId: string): TransactItem {
  return { Put: { Item: { ...openRequestKey(requestId), kind: 'open', requestId, since: table.now(), expiresAt: table.expiresIn(retentionDays) } } };
}

/** Takes a job off the list, in the transaction that checks it is settled. */
export function closedJobEntry(jobId: string): TransactItem {
  return { Delete: { Key: openJobKey(jobId) } };
}

/** Takes a request off the list, in the transaction that marks its answer sent. */
export function closedRequestEntry(requestId: string): TransactItem {
  return { Delete: { Key: openRequestKey(requestId) } };
}

export class OpenList {
  constructor(private readonly table: DynamoTable) {}

  /** Unfinished jobs and unsent answers: everything the sweeper has to look at. */
  async openItems(): Promise<{ jobs: string[]; requests: string[] }> {
    const jobs: string[] = [];
    const requests: string[] = [];
    for await (const item of this.table.queryItems<{ sk: string }>('pk = :pk', { ':pk': OPEN_PK })) {
      if (item.sk.startsWith('JOB#')) jobs.push(item.sk.slice(4));
      else if (item.sk.startsWith('REQ#')) requests.push(item.sk.slice(4));
    }
    return { jobs, requests };
  }

  /** A job with nothing more on the sweeper's list (it no longer exists). */
  async forgetOpenJob(jobId: string): Promise<void> {
    await this.table.sendDelete(new DeleteCommand({ TableName: this.table.name, Key: openJobKey(jobId) }));
  }

  async forgetOpenRequest(requestId: string): Promise<void> {
    await this.table.sendDelete(new DeleteCommand({ TableName: this.table.name, Key: openRequestKey(requestId) }));
  }
}
