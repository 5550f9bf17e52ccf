import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';

/** The exports queue's one message: run step `step` of export `exportId`. */
export const ContinuationSchema = z.object({ kind: z.literal('export-continuation'), exportId: z.string().min(1), step: z.number().int().positive() });
export type Continuation = z.output<typeof ContinuationSchema>;

export interface ContinuationSender {
  send(message: Continuation): Promise<void>;
}

/**
 * Sends continuations to the exports queue, delayed so the invocation that sends one has ended
 * before the next starts: the exporter's reserved concurrency is 1, and a delivery that found it
 * busy would be throttled and count as a receive.
 */
export function queueContinuations(sqs: SQSClient, queueUrl: string, delaySeconds: number): ContinuationSender {
  return {
    async send(message) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message), DelaySeconds: delaySeconds }));
    },
  };
}
