import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';

const MAX_ENTRIES = 10;
/** SendMessageBatch admits 1 MiB per call; stay clear of it. */
const MAX_BATCH_BYTES = 900 * 1024;
const MAX_ENTRY_ATTEMPTS = 6;

/**
 * Sends messages ten to a SendMessageBatch call, with several calls in flight. Entries that SQS
 * refuses inside an otherwise successful batch are retried with backoff; an entry that still fails
 * is an error for the whole send, because a message silently lost is a row with no outcome.
 */
export class SqsBatchSender {
  private buffer: SendMessageBatchRequestEntry[] = [];
  private bufferBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private nextId = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly concurrency: number,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** Resolves once the message is buffered; waits when too many calls are already in flight. */
  async send(body: string): Promise<void> {
    if (this.failure) throw this.failure;
    const bytes = Buffer.byteLength(body);
    if (this.buffer.length >= MAX_ENTRIES || this.bufferBytes + bytes > MAX_BATCH_BYTES) await this.dispatch();
    this.buffer.push({ Id: String(this.nextId++), MessageBody: body });
    this.bufferBytes += bytes;
    if (this.buffer.length >= MAX_ENTRIES) await this.dispatch();
  }

  async flush(): Promise<void> {
    if (this.buffer.length > 0) await this.dispatch();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private async dispatch(): Promise<void> {
    const entries = this.buffer;
    this.buffer = [];
    this.bufferBytes = 0;
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const call = this.sendWithRetries(entries).catch((error: unknown) => {
      this.failure ??= error;
    });
    const tracked = call.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private async sendWithRetries(entries: SendMessageBatchRequestEntry[]): Promise<void> {
    let pending = entries;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const result = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }));
      const failedIds = new Set((result.Failed ?? []).map((f) => f.Id));
      const senderFault = (result.Failed ?? []).find((f) => f.SenderFault);
      if (senderFault) throw new Error(`SQS refused a message: ${senderFault.Code} ${senderFault.Message ?? ''}`);
      pending = pending.filter((entry) => failedIds.has(entry.Id));
      if (pending.length === 0) return;
      if (attempt >= MAX_ENTRY_ATTEMPTS) throw new Error(`SQS kept failing ${pending.length} messages after ${attempt} attempts`);
      await this.sleep(Math.random() * Math.min(5_000, 100 * 2 ** attempt));
    }
  }
}
