import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, type Message, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse } from 'aws-lambda';
import { sqsEvent } from '../wiring/lambdaEvents';
import type { FunctionPool, InvocationOutcome } from './functionPool';
import type { QueueSizing } from './sizing';

export interface MappingInvocation {
  queueUrl: string;
  messages: Message[];
  startedAt: number;
  endedAt: number;
  outcome: InvocationOutcome;
  /** Message ids deleted after the invocation (the successes). */
  deleted: string[];
}

export interface EventSourceMappingOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  pool: FunctionPool;
  sizing: QueueSizing;
  onInvocation?: (invocation: MappingInvocation) => void;
  onError?: (error: { fn: string; message: string }) => void;
}

/**
 * Lambda's SQS event source mapping on the twin: up to maxConcurrency batches in flight, each
 * gathered up to the batch size, the batching window or Lambda's 6 MB event cap (a record that
 * would pass it is kept for the next batch, still in flight), handed to a function environment, and
 * settled as AWS settles them. Only the successes of a partial batch response are deleted; a
 * failed, timed-out or crashed invocation deletes nothing, so its messages stay in flight and
 * reappear when the queue's visibility timeout expires (the receive count then rises and the
 * redrive policy applies).
 */
export class TwinEventSourceMapping {
  private running = false;
  private stopping = false;
  private loops: Promise<void>[] = [];
  /** Received records a batch had no room for under the payload cap: the next batch starts with them. */
  private carried: Message[] = [];
  /** Batches handed to the function whose invocation has not yet been settled and reported. */
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: EventSourceMappingOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.loops = Array.from({ length: this.options.sizing.maxConcurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    await Promise.all(this.loops);
    await this.releaseCarried();
  }

  /**
   * Resolves once no invocation of this mapping is in flight: every batch handed over so far has
   * been settled and reported to `onInvocation`. A job can complete (its last row recorded) while
   * the invocation that recorded it is still running, so an audit of invocation spans waits here.
   */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Receives and invokes one batch; false when the queue gave nothing. For tests that step by
   * hand: records the batch had no room for are made visible again, for the next poll.
   */
  async pollOnce(): Promise<boolean> {
    const messages = await this.gather();
    if (messages.length > 0) await this.invoke(messages);
    await this.releaseCarried();
    return messages.length > 0;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const messages = await this.gather();
        if (messages.length > 0) await this.invoke(messages);
      } catch (error) {
        this.options.onError?.({ fn: this.options.pool.functionName, message: `polling ${this.options.queueUrl}: ${(error as Error).message}` });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private async gather(): Promise<Message[]> {
    const { sqs, queueUrl } = this.options;
    const { batchSize, batchWindowMs, maxPayloadBytes } = this.options.sizing;
    const messages: Message[] = [];
    let payloadBytes = EVENT_ENVELOPE_BYTES;
    let full = false;
    /** Takes records while the event stays under the cap; the rest are carried to the next batch. */
    const take = (received: Message[]) => {
      for (const [index, message] of received.entries()) {
        const bytes = this.recordBytes(message);
        if (full || (messages.length > 0 && payloadBytes + bytes > maxPayloadBytes)) {
          full = true;
          this.carried.push(...received.slice(index));
          return;
        }
        messages.push(message);
        payloadBytes += bytes;
      }
    };
    take(this.carried.splice(0, batchSize));
    let windowEnds = messages.length > 0 ? Date.now() + batchWindowMs : Number.POSITIVE_INFINITY;
    while (messages.length < batchSize && !full && !this.stopping) {
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
      if (received.length > 0 && messages.length === 0) windowEnds = Date.now() + batchWindowMs;
      take(received);
      if (messages.length === 0) return messages;
      if (Date.now() >= windowEnds) break;
      // The window is still open and the queue is empty for now: wait a little for more.
      if (received.length === 0) await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(0, windowEnds - Date.now()))));
    }
    return messages;
  }

  /** The record's size in the event Lambda would build (a comma included). */
  private recordBytes(message: Message): number {
    const [record] = sqsEvent(this.options.queueArn, [message]).Records;
    return Buffer.byteLength(JSON.stringify(record)) + 1;
  }

  /** Carried records go back to the queue, visible at once, when no batch of this mapping will take them. */
  private async releaseCarried(): Promise<void> {
    const carried = this.carried.splice(0);
    for (let i = 0; i < carried.length; i += 10) {
      await this.options.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: carried.slice(i, i + 10).map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '', VisibilityTimeout: 0 })),
        }),
      );
    }
  }

  private async invoke(messages: Message[]): Promise<void> {
    this.inFlight += 1;
    try {
      await this.invokeAndSettle(messages);
    } finally {
      this.inFlight -= 1;
      if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async invokeAndSettle(messages: Message[]): Promise<void> {
    const { sqs, queueUrl, queueArn, pool } = this.options;
    const startedAt = Date.now();
    const outcome = await pool.invoke(sqsEvent(queueArn, messages));
    let succeeded: Message[] = [];
    if (outcome.status === 'ok') {
      const failures = batchItemFailures(outcome.value);
      if (failures) succeeded = messages.filter((m) => !failures.has(m.MessageId ?? ''));
      else this.options.onError?.({ fn: pool.functionName, message: 'invalid batch response: the whole batch is retried' });
    } else {
      this.options.onError?.({ fn: pool.functionName, message: outcome.message });
    }
    for (let i = 0; i < succeeded.length; i += 10) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: succeeded.slice(i, i + 10).map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle ?? '' })),
        }),
      );
    }
    this.options.onInvocation?.({ queueUrl, messages, startedAt, endedAt: Date.now(), outcome, deleted: succeeded.map((m) => m.MessageId ?? '') });
  }
}

/** `{"Records":[` and `]}` around the records. */
const EVENT_ENVELOPE_BYTES = Buffer.byteLength('{"Records":[]}');

/** The failed ids of a valid ReportBatchItemFailures response; undefined when the response is not valid. */
function batchItemFailures(value: unknown): Set<string> | undefined {
  if (value === null || value === undefined) return new Set();
  if (typeof value !== 'object') return undefined;
  const list = (value as SQSBatchResponse).batchItemFailures;
  if (list === undefined) return new Set();
  if (!Array.isArray(list)) return undefined;
  const ids = new Set<string>();
  for (const item of list) {
    if (typeof item?.itemIdentifier !== 'string' || item.itemIdentifier === '') return undefined;
    ids.add(item.itemIdentifier);
  }
  return ids;
}
