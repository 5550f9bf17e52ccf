import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { reassignmentEvent } from '../../helpers/events';
import { runFile, startIngestPipeline } from '../../helpers/ingest';
import type { Pipeline } from '../../helpers/pipeline';

let pipeline: Pipeline;
let sim: RingCxSimulator;

beforeAll(async () => {
  pipeline = await startIngestPipeline({ maxReceiveCount: 2, env: { MAX_FILE_BYTES: String(150 * 1024 * 1024), MAX_ROWS: '250000' } });
  sim = pipeline.stack.simulator as RingCxSimulator;
});
afterAll(() => pipeline?.stop());

const allKeys = async () => {
  const listed = await pipeline.stack.s3.send(new ListObjectsV2Command({ Bucket: pipeline.bucket }));
  return (listed.Contents ?? []).map((o) => o.Key as string);
};

describe('object keys', () => {
  it.each([
    ['incoming/../../etc/passwd.csv', /^results\/etc\/passwd\/[0-9a-f]{24}\/results\.csv$/],
    ['incoming/team a/März Nummern (2).csv', /^results\/team a\/März Nummern \(2\)\/[0-9a-f]{24}\/results\.csv$/],
    ['incoming/./x/../y/..csv', /^results\/x\/y\/[0-9a-f]{24}\/results\.csv$/],
    ['incoming/\u202eevil\u0007.csv', /^results\/_evil\/[0-9a-f]{24}\/results\.csv$/],
  ])('keeps %j inside results/', async (key, expected) => {
    const before = new Set(await allKeys());
    await runFile(pipeline, key, `dnis,description\n1212556${String(Math.floor(Math.random() * 9000) + 1000)},x\n`);
    const written = (await allKeys()).filter((k) => !before.has(k) && k !== key);
    expect(written).toHaveLength(3);
    expect(written.find((k) => k.endsWith('results.csv'))).toMatch(expected);
    for (const k of written) expect(k.startsWith('results/')).toBe(true);
  });
});

describe('oversized files', () => {
  it('refuses a 200 MB file by its size, without reading it, with a report', async () => {
    const big = Buffer.alloc(200 * 1024 * 1024, 'a');
    const run = await runFile(pipeline, 'incoming/huge.csv', big);
    expect(run.summary).toMatchObject({ status: 'failed', fileError: expect.stringMatching(/the file is 200\.0 MB; the limit is 150\.0 MB/) });
    expect(await pipeline.queueDepth(pipeline.stack.queues.work.url)).toBe(0);
  });

  it('refuses a 2,000,000-row file at the row limit, before sending a row', async () => {
    const callsBefore = sim.apiCalls().length;
    const rows = Buffer.from(`dnis\n${'12125550123\n'.repeat(2_000_000)}`);
    const run = await runFile(pipeline, 'incoming/many-rows.csv', rows);
    expect(run.summary).toMatchObject({ status: 'failed', fileError: 'the file has more than 250,000 rows; split it into smaller files' });
    expect(await pipeline.queueDepth(pipeline.stack.queues.work.url)).toBe(0);
    expect(sim.apiCalls().length).toBe(callsBefore);
  });
});

describe('malformed messages and events', () => {
  it('never lets a malformed SQS body crash its batch: good rows complete, the bad one ends in the DLQ', async () => {
    const event = await pipeline.putCsv('incoming/with-poison.csv', 'dnis,description\n12125557001,good\n12125557002,good\n');
    await pipeline.runParser(event);
    const { sqs, queues } = pipeline.stack;
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queues.work.url,
        Entries: [
          { Id: 'a', MessageBody: 'not json at all' },
          { Id: 'b', MessageBody: JSON.stringify({ v: 1, kind: 'row', jobId: 'x', line: 'two' }) },
          { Id: 'c', MessageBody: JSON.stringify({ kind: 'reassign', requestId: 42 }) },
        ],
      }),
    );
    await pipeline.drain();
    expect(sim.state.pool.has('12125557001')).toBe(true);
    expect(sim.state.pool.has('12125557002')).toBe(true);
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.workDlq.url, MaxNumberOfMessages: 10 }));
    expect((dead.Messages ?? []).map((m) => m.Body).sort()).toEqual(
      ['not json at all', JSON.stringify({ v: 1, kind: 'row', jobId: 'x', line: 'two' }), JSON.stringify({ kind: 'reassign', requestId: 42 })].sort(),
    );
  });

  it.each([
    ['no detail', undefined],
    ['detail is a string', 'move it please'],
    ['detail is an array', [1, 2, 3]],
    ['detail is null', null],
    ['unknown fields', { dnis: '2125550100', target: { type: 'queue', id: 4501 }, requestedBy: 'x', reason: 'y', drop: 'table' }],
  ])('sets aside an EventBridge event with %s, without throwing', async (_name, detail) => {
    const event = reassignmentEvent(detail);
    await expect(pipeline.intake(event, lambdaContext('intake'))).resolves.toMatchObject({ status: 'invalid' });
  });
});
