import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { lambdaContext, sqsEvent } from './lambdaEvents';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  functionName: string;
  handler: SqsHandler;
  /** Like the event source mapping's batchSize / maximumBatchingWindow. */
  batchSize: number;
  batchWindowMs: number;
  /** Like the mapping's maxConcurrency: batches in flight at once. */
  concurrency: number;
  /**
   * Failed records become visible again after this long (the queue's visibility timeout, scaled
   * for local runs); the receive count then rises and the redrive policy moves them to the DLQ.
   */
  retryDelayMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * The local stand-in for Lambda's SQS event source mapping: long-polls, gathers batches, invokes the
 * handler with the real event shape, deletes what succeeded, and lets reported failures (or a
 * whole batch whose invocation threw) come back after the visibility timeout.
 */
export class SqsPoller {
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly options: PollerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: this.options.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Receives and handles one batch; false when the queue gave nothing. For tests that step by hand. */
  async pollOnce(): Promise<boolean> {
    const messages = await this.gather(this.options.batchWindowMs);
    if (messages.length === 0) return false;
    await this.invoke(messages);
    return true;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const messages = await this.gather(this.options.batchWindowMs);
        if (messages.length > 0) await this.invoke(messages);
      } catch (error) {
        this.options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private async gather(windowMs: number): Promise<Message[]> {
    const { sqs, queueUrl, batchSize } = this.options;
    const messages: Message[] = [];
    const deadline = Date.now() + windowMs;
    while (messages.length < batchSize) {
      const waitSeconds = messages.length === 0 ? 1 : 0;
      const result = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, batchSize - messages.length),
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const received = result.Messages ?? [];
      messages.push(...received);
      if (received.length === 0 && (messages.length > 0 || Date.now() >= deadline)) break;
      if (Date.now() >= deadline && messages.length > 0) break;
    }
    return messages;
  }

  private async invoke(messages: Message[]): Promise<void> {
    const { sqs, queueUrl, handler, functionName } = this.options;
    const event = sqsEvent(this.options.queueArn, messages);
    let failedIds: Set<string>;
    try {
      const response = await handler(event, lambdaContext(functionName));
      failedIds = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      // A thrown invocation fails the whole batch, as in Lambda.
      this.options.onError?.(error);
      failedIds = new Set(messages.map((m) => m.MessageId ?? ''));
    }
    const succeeded = messages.filter((m) => !failedIds.has(m.MessageId ?? ''));
    for (let i = 0; i < succeeded.length; i += 10) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: succeeded.slice(i, i + 10).map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
    const failed = messages.filter((m) => failedIds.has(m.MessageId ?? ''));
    if (failed.length > 0 && this.options.retryDelayMs !== undefined) {
      const seconds = Math.ceil(this.options.retryDelayMs / 1000);
      for (let i = 0; i < failed.length; i += 10) {
        await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: failed.slice(i, i + 10).map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '', VisibilityTimeout: seconds })),
          }),
        );
      }
    }
  }
}
