import type { SQSEvent } from 'aws-lambda';
import type { QueueRecord } from '../worker/rows';

/** Thrown for a record that should come back later; its message is the reason. */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
}

export function toQueueRecords(event: SQSEvent): QueueRecord[] {
  return event.Records.map((record) => ({
    messageId: record.messageId,
    body: record.body,
    receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1) || 1,
  }));
}
