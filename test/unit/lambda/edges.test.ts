import { describe, expect, it } from 'vitest';
import { eventBridgeHandler, s3ObjectsHandler, sqsBatchHandler } from '../../../shared/lambda/handler';
import type { BatchVerdicts } from '../../../shared/lambda/sqsRecords';
import { lambdaContext, s3ObjectCreatedEvent, sqsEvent } from '../../../local/wiring/lambdaEvents';
import { reassignmentEvent } from '../../helpers/events';

const deps = { name: 'the dependencies' };

describe('sqsBatchHandler', () => {
  const messages = ['a', 'b', 'c'].map((id, i) => ({ MessageId: id, Body: `{"n":${i}}`, ReceiptHandle: id, Attributes: { ApproximateReceiveCount: String(i + 1) } }));

  it('hands the records and the dependencies to the work, and reports only the records to retry', async () => {
    const seen: unknown[] = [];
    const handler = sqsBatchHandler(deps, async (records, dependencies): Promise<BatchVerdicts> => {
      seen.push(records, dependencies);
      return new Map([
        ['a', { status: 'done' }],
        ['b', { status: 'retry', reason: 'RingCX answered 503' }],
      ]);
    });
    expect(await handler(sqsEvent('arn:aws:sqs:us-east-1:000000000000:work', messages), lambdaContext('worker'))).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }] });
    expect(seen).toEqual([
      [
        { messageId: 'a', body: '{"n":0}', receiveCount: 1 },
        { messageId: 'b', body: '{"n":1}', receiveCount: 2 },
        { messageId: 'c', body: '{"n":2}', receiveCount: 3 },
      ],
      deps,
    ]);
  });

  it('answers a batch where every record must wait normally, with every record listed', async () => {
    const handler = sqsBatchHandler(deps, async (records) => new Map(records.map((r) => [r.messageId, { status: 'retry', reason: 'deadline' } as const])));
    const response = await handler(sqsEvent('arn:aws:sqs:us-east-1:000000000000:work', messages), lambdaContext('worker'));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(['a', 'b', 'c']);
  });

  it('fails the invocation for an event that is not an SQS batch, before the work runs', async () => {
    let ran = false;
    const handler = sqsBatchHandler(deps, async () => {
      ran = true;
      return new Map();
    });
    await expect(handler({ Records: [{ body: 'no message id' }] }, lambdaContext('worker'))).rejects.toThrow();
    expect(ran).toBe(false);
  });
});

describe('s3ObjectsHandler', () => {
  it('gives the work the created objects with their keys decoded', async () => {
    const handler = s3ObjectsHandler(deps, async (objects) => objects);
    const event = s3ObjectCreatedEvent('bucket', 'incoming/team a/März (2).csv', { size: 12, eTag: '"abc"', versionId: 'v1' });
    expect(await handler(event, lambdaContext('parser'))).toEqual([{ bucket: 'bucket', key: 'incoming/team a/März (2).csv', size: 12, etag: 'abc', versionId: 'v1' }]);
  });

  it('refuses an event that is not an S3 notification', async () => {
    const handler = s3ObjectsHandler(deps, async (objects) => objects);
    await expect(handler({ Records: [{ s3: { bucket: { name: 'b' } } }] }, lambdaContext('parser'))).rejects.toThrow();
  });
});

describe('eventBridgeHandler', () => {
  it('passes the envelope on, detail unvalidated (the function validates its own detail)', async () => {
    const handler = eventBridgeHandler(deps, async (event, dependencies) => ({ id: event.id, detail: event.detail, dependencies }));
    const event = reassignmentEvent({ anything: true });
    expect(await handler(event, lambdaContext('intake'))).toEqual({ id: event.id, detail: { anything: true }, dependencies: deps });
  });

  it('refuses an envelope without the fields EventBridge always sets', async () => {
    const handler = eventBridgeHandler(deps, async (event) => event.id);
    await expect(handler({ id: 'x', detail: {} }, lambdaContext('intake'))).rejects.toThrow();
  });
});
