import type { MiddlewareObj } from '@middy/core';
import { SqsSchema } from '@aws-lambda-powertools/parser/schemas/sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import type { z } from 'zod';

/** SQS's batch event to Lambda, as Powertools describes it. */
export const SqsEventSchema = SqsSchema;

/** One SQS record as the worker sees it, independent of the Lambda event shape. */
export interface QueueRecord {
  messageId: string;
  body: string;
  /** SQS ApproximateReceiveCount: 1 on first delivery. */
  receiveCount: number;
}

/** `done`: delete the message. `retry`: leave it for redelivery (and eventually the DLQ). */
export type RecordVerdict = { status: 'done' } | { status: 'retry'; reason: string };

/** A verdict per message id. A record without one counts as done, as a record whose handler returned does. */
export type BatchVerdicts = Map<string, RecordVerdict>;

export function toQueueRecords(event: z.output<typeof SqsEventSchema>): QueueRecord[] {
  return event.Records.map((record) => ({
    messageId: record.messageId,
    body: record.body,
    receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
  }));
}

/** The ReportBatchItemFailures answer for a batch's verdicts: the records to retry, by message id. */
export function batchResponseOf(verdicts: BatchVerdicts): SQSBatchResponse {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const [messageId, verdict] of verdicts) if (verdict.status === 'retry') batchItemFailures.push({ itemIdentifier: messageId });
  return { batchItemFailures };
}

/**
 * Turns the verdicts the handler returns into the batch response. A batch where every record must
 * wait is still a normal answer, not a failed invocation: a throw would retry the batch as one and
 * hide which records succeeded. A handler that throws still fails the whole batch, as it should.
 */
export function sqsBatchResponse(): MiddlewareObj<unknown, BatchVerdicts | SQSBatchResponse> {
  return {
    after: (request) => {
      if (request.response instanceof Map) request.response = batchResponseOf(request.response);
    },
  };
}
