import { createHash } from 'node:crypto';
import { PutEventsCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CompleteMultipartUploadCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { lambdaContext, sqsEvent } from '../../../local/wiring/lambdaEvents';
import type { ExportContinuing, ExportManifest, ExportNotRun } from '../../../shared/exporter/exportInventory';
import { PART_BYTES } from '../../../shared/exporter/partUpload';
import { createAwsClients } from '../../../shared/aws/clients';
import { loadConfig } from '../../../shared/config';
import { outcomeTenant, runFile, startIngestPipeline } from '../../helpers/ingest';
import { parseCsv, type Pipeline } from '../../helpers/pipeline';

/**
 * An export forced over four invocations by a remaining time that runs short after a few pages:
 * the checkpoint, the continuation on the exports queue, a continuation delivered twice, a second
 * export refused while this one runs, a step killed after sending a part and then redelivered, a
 * file larger than one S3 part, written across invocations, and a last step killed while it
 * completes the files, writes the manifest or publishes, then redelivered.
 */
const INVENTORY = 20_000;
const PAGE_SIZE = 1_000;
/** Long descriptions, so the file passes S3's 5 MiB part size with few pages. */
const FILLER = 'x'.repeat(300);
const TICK = '2026-11-30T11:00:00.000Z';
let pipeline: Pipeline;
let sim: RingCxSimulator;

beforeAll(async () => {
  const seed = outcomeTenant();
  for (let i = 0; i < INVENTORY; i++) {
    seed.pool?.push({
      dnis: `1213${String(1_000_000 + i).padStart(7, '0')}`,
      reservedAccountId: i % 2 ? '99990002' : '99990001',
      dnisDescription: `Inventory ${i} ${FILLER}`,
      ...(i % 3 ? { assignment: { type: 'gate' as const, id: i % 2 ? 4504 : 4501 } } : {}),
    });
  }
  pipeline = await startIngestPipeline({
    simulator: { seed },
    env: { RINGCX_ACCOUNT_IDS: '99990001,99990002', EXPORT_PAGE_SIZE: String(PAGE_SIZE), EXPORT_CONTINUE_DELAY_SECONDS: '0' },
  });
  sim = pipeline.stack.simulator as RingCxSimulator;
}, 120_000);
afterAll(() => pipeline?.stop());
afterEach(() => {
  vi.restoreAllMocks();
});

/** An invocation whose remaining time runs short (below the exporter's 30 s margin) once it has read `pages` pages. */
function contextFor(pages: number): Context {
  const searchesBefore = sim.apiCalls('searchPools').length;
  return { ...lambdaContext('exporter', 15 * 60_000), getRemainingTimeInMillis: () => (sim.apiCalls('searchPools').length - searchesBefore >= pages ? 10_000 : 15 * 60_000) };
}

async function nextContinuation(): Promise<Message> {
  const { url } = pipeline.stack.queues.exports;
  for (let tries = 0; tries < 10; tries++) {
    const received = await pipeline.stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
    const message = received.Messages?.[0];
    if (message) return message;
  }
  throw new Error('no continuation on the exports queue');
}

/** An invocation killed at its deadline after `pages` pages (the twin SIGKILLs; here the time check throws). */
function dyingContext(pages: number): Context {
  const searchesBefore = sim.apiCalls('searchPools').length;
  return {
    ...lambdaContext('exporter', 15 * 60_000),
    getRemainingTimeInMillis: () => {
      if (sim.apiCalls('searchPools').length - searchesBefore >= pages) throw new Error('killed at the deadline');
      return 15 * 60_000;
    },
  };
}

/** What time does on AWS before SQS shows the message again (6 × the timeout): the dead invocation's claim runs out. */
async function letClaimRunOut(exportId: string) {
  const { dynamo } = createAwsClients(loadConfig(pipeline.stack.env));
  await dynamo.send(new UpdateCommand({ TableName: pipeline.stack.env.TABLE_NAME, Key: { pk: `EXPORT#${exportId}`, sk: 'META' }, UpdateExpression: 'SET claimUntil = :past', ExpressionAttributeValues: { ':past': 0 } }));
}

const deliver = async (message: Message, context: Context) => (await pipeline.exporter(sqsEvent(pipeline.stack.queues.exports.arn, [message]), context)) as SQSBatchResponse;

/** What the event source mapping does with a message its invocation handled. */
async function acknowledge(message: Message) {
  await pipeline.stack.sqs.send(new DeleteMessageCommand({ QueueUrl: pipeline.stack.queues.exports.url, ReceiptHandle: message.ReceiptHandle }));
}

/** SQS showing a message again after its invocation failed (on AWS, once its visibility timeout runs out). */
async function redelivered(message: Message): Promise<Message> {
  await pipeline.stack.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: pipeline.stack.queues.exports.url, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 }));
  const again = await nextContinuation();
  expect(again.MessageId).toBe(message.MessageId);
  return again;
}

const KILLED = 'killed right after the call took effect';

/**
 * The invocation dies right after an SDK call `matches` picks has taken effect, once: the
 * client's `send` (every S3 or EventBridge client in this process, the exporter's included)
 * throws after S3 or EventBridge answered.
 */
function dieAfter(client: typeof S3Client | typeof EventBridgeClient, matches: (command: unknown) => boolean) {
  type Send = (this: unknown, command: unknown, ...rest: unknown[]) => Promise<unknown>;
  const prototype = client.prototype as unknown as { send: Send };
  const send = prototype.send;
  const spy = vi.spyOn(prototype, 'send').mockImplementation(async function (this: unknown, command: unknown, ...rest: unknown[]) {
    const output = await send.call(this, command, ...rest);
    if (matches(command)) {
      spy.mockRestore();
      throw new Error(KILLED);
    }
    return output;
  });
}

it('continues an export over four invocations through the exports queue, and the last writes a complete, correct manifest', { timeout: 300_000 }, async () => {
  // Declared numbers: one early in the inventory left alone (read in the first invocation, so
  // "declared but missing" must remember it), one deleted, one moved, one renamed.
  const declared = await runFile(
    pipeline,
    'incoming/declared.csv',
    [
      'dnis,description,active,target_type,target_id',
      '12125550150,Kept early,true,queue,4501',
      '12139000002,Gone,true,queue,4501',
      '12139000003,Moved,true,queue,4501',
      '12139000004,Renamed,true,queue,4501',
    ].join('\n'),
  );
  expect(declared.summary.outcomes).toEqual({ created: 4 });
  sim.state.pool.delete('12139000002');
  sim.state.assignments.delete('12139000002');
  sim.state.assignments.set('12139000003', { ...sim.state.assignments.get('12139000003')!, id: 4502 });
  sim.state.pool.get('12139000004')!.dnisDescription = 'Renamed by hand';
  const callsBefore = sim.apiCalls().length;

  const first = (await pipeline.exporter({ scheduledTime: TICK }, contextFor(8))) as ExportContinuing;
  expect(first).toMatchObject({ status: 'continuing', step: 1, pages: 8 });

  // Another export asked for meanwhile (a person, on demand) does not start beside this one.
  const onDemand = (await pipeline.exporter({}, lambdaContext('exporter', 15 * 60_000))) as ExportNotRun;
  expect(onDemand).toMatchObject({ status: 'skipped', reason: expect.stringContaining(first.exportId) });

  const stepOne = await nextContinuation();
  expect(JSON.parse(stepOne.Body ?? '{}')).toEqual({ kind: 'export-continuation', exportId: first.exportId, step: 1 });
  expect(await deliver(stepOne, contextFor(8))).toEqual({ batchItemFailures: [] });

  // The same continuation again (SQS delivers at least once): its step is done, nothing happens.
  const callsBeforeRedelivery = sim.apiCalls().length;
  expect(await deliver(stepOne, contextFor(8))).toEqual({ batchItemFailures: [] });
  expect(sim.apiCalls().length).toBe(callsBeforeRedelivery);
  // A retry of the schedule's tick resumes the same export instead of starting another: it reads on.
  const retriedTick = (await pipeline.exporter({ scheduledTime: TICK }, contextFor(1))) as ExportContinuing;
  expect(retriedTick).toMatchObject({ exportId: first.exportId, status: 'continuing', step: 3 });

  const stepTwo = await nextContinuation();
  expect(JSON.parse(stepTwo.Body ?? '{}')).toMatchObject({ step: 2 });
  // Step 2 was taken by the retried tick: this continuation is now a duplicate.
  expect(await deliver(stepTwo, lambdaContext('exporter', 15 * 60_000))).toEqual({ batchItemFailures: [] });
  const stepThree = await nextContinuation();
  expect(JSON.parse(stepThree.Body ?? '{}')).toMatchObject({ step: 3 });
  // Step 3 dies after two pages, having sent the file's first 5 MiB part: nothing is committed.
  await expect(deliver(stepThree, dyingContext(2))).rejects.toThrow('killed at the deadline');
  // While its claim runs, a redelivery leaves the step to it and asks to come back later.
  expect(await deliver(stepThree, lambdaContext('exporter', 15 * 60_000))).toEqual({ batchItemFailures: [{ itemIdentifier: stepThree.MessageId }] });
  await letClaimRunOut(first.exportId);
  // Redelivered once the claim ran out: step 3 again from its checkpoint, the part sent again.
  expect(await deliver(stepThree, lambdaContext('exporter', 15 * 60_000))).toEqual({ batchItemFailures: [] });

  const manifestKey = first.files.manifest;
  const manifest = JSON.parse((await pipeline.readObject(manifestKey)) ?? '{}') as ExportManifest;
  const visible = [...sim.state.pool.values()].filter((r) => r.reservedAccountId !== '99990009').length;
  const pages = Math.ceil(visible / PAGE_SIZE);
  expect(manifest).toMatchObject({ exportId: first.exportId, status: 'complete', invocations: 4, numbers: visible, pages, apiCalls: pages + 2 });
  expect(manifest.completion).toContain('4 invocations');
  // Every search once (and the dead step's two again), the tracking groups once (carried, not
  // re-read), no call from the duplicates. The manifest counts the calls of the steps that committed.
  expect(sim.apiCalls().slice(callsBefore).map((e) => e.route).sort()).toEqual([...Array(pages + 2).fill('searchPools'), 'listTracGroups', 'listTracGroups'].sort());

  const text = (await pipeline.readObject(manifest.files.export)) ?? '';
  // Three parts: the first sent by step 1, the second (at 85% of the file, page 18) by the step
  // that died, then again by its redelivery, the last at completion.
  expect(Buffer.byteLength(text)).toBeGreaterThan(2 * PART_BYTES);
  expect(manifest.checksum).toEqual({ algorithm: 'sha256', value: createHash('sha256').update(text).digest('hex') });
  const rows = parseCsv(text);
  expect(rows[0]?.[0]).toBe('dnis');
  const numbers = rows.slice(1).map((r) => (r[0] ?? '').slice(1));
  expect(numbers).toHaveLength(visible);
  expect(new Set(numbers).size).toBe(visible);
  expect(new Set(numbers)).toEqual(new Set([...sim.state.pool.values()].filter((r) => r.reservedAccountId !== '99990009').map((r) => r.dnis)));
  expect(rows.find((r) => r[0] === '+12131019999')?.[3]).toBe(`Inventory 19999 ${FILLER}`);

  const drift = parseCsv((await pipeline.readObject(manifest.files.drift)) ?? '').slice(1);
  const kinds = (dnis: string) => drift.filter((r) => r[0] === dnis).map((r) => r[1]);
  expect(kinds('12125550150')).toEqual([]);
  expect(kinds('12139000002')).toEqual(['missing']);
  expect(kinds('12139000003')).toEqual(['assigned-elsewhere']);
  expect(kinds('12139000004')).toEqual(['description-mismatch']);
  expect(drift.filter((r) => r[1] === 'missing')).toHaveLength(1);
  expect(manifest.drift).toMatchObject({ missing: 1, 'assigned-elsewhere': 1, 'description-mismatch': 1 });
  expect(drift.filter((r) => r[1] === 'undeclared').length).toBe(manifest.drift.undeclared);
  const event = pipeline.stack.json.events.filter((e) => (e.detail as { exportId?: string }).exportId === first.exportId);
  expect(event.map((e) => e.detailType)).toEqual(['DNIS Drift Detected']);

  // Done: a late duplicate of the last continuation, or the tick once more, changes nothing.
  expect(await deliver(stepThree, lambdaContext('exporter', 15 * 60_000))).toEqual({ batchItemFailures: [] });
  expect(await pipeline.exporter({ scheduledTime: TICK }, lambdaContext('exporter', 15 * 60_000))).toMatchObject({ status: 'skipped' });
  expect(JSON.parse((await pipeline.readObject(manifestKey)) ?? '{}')).toEqual(manifest);
  // The mapping deletes what its invocations handled: nothing is left on the exports queue.
  for (const message of [stepOne, stepTwo, stepThree]) await acknowledge(message);
  expect(await pipeline.queueDepth(pipeline.stack.queues.exports.url)).toBe(0);
});

describe('a last step killed while it finishes, then redelivered', () => {
  const completing = (key: () => string) => (command: unknown) => command instanceof CompleteMultipartUploadCommand && command.input.Key === key();
  const putting = (key: () => string) => (command: unknown) => command instanceof PutObjectCommand && command.input.Key === key();
  const publishing = (exportId: () => string) => (command: unknown) => command instanceof PutEventsCommand && (command.input.Entries ?? []).some((e) => e.Detail?.includes(exportId()));
  let files: ExportManifest['files'];
  let exportId: string;
  // The tick of each case's export: an hour apart, so each is an export of its own.
  const cases = [
    { death: 'after completing the export file (the drift file still open)', kill: () => dieAfter(S3Client, completing(() => files.export)), events: 1 },
    { death: 'after completing both files, before the manifest', kill: () => dieAfter(S3Client, completing(() => files.drift)), events: 1 },
    { death: 'after writing the manifest, before publishing', kill: () => dieAfter(S3Client, putting(() => files.manifest)), events: 1 },
    // Published before the commit: at least once, and twice here (finalStep.ts says why that is accepted).
    { death: 'after publishing the completion event, before the commit', kill: () => dieAfter(EventBridgeClient, publishing(() => exportId)), events: 2 },
  ].map((c, i) => ({ ...c, tick: `2026-11-30T${String(12 + i).padStart(2, '0')}:00:00.000Z` }));

  it.each(cases)('$death: the export completes with a manifest true to the stored files', { timeout: 120_000 }, async ({ kill, events, tick }) => {
    const visible = () => new Set([...sim.state.pool.values()].filter((r) => r.reservedAccountId !== '99990009').map((r) => r.dnis));
    const first = (await pipeline.exporter({ scheduledTime: tick }, contextFor(12))) as ExportContinuing;
    expect(first).toMatchObject({ status: 'continuing', step: 1 });
    ({ files, exportId } = first);
    const lastStep = await nextContinuation();
    // What RingCX holds while the last step reads the rest: what the stored file must hold.
    const readByTheLastStep = visible();
    kill();
    await expect(deliver(lastStep, lambdaContext('exporter', 15 * 60_000))).rejects.toThrow(KILLED);
    expect(await pipeline.readObject(files.export)).toBeDefined();

    // RingCX changes before the redelivery: a number the last step exported is gone. Read again,
    // the pages would no longer match the file S3 completed.
    const gone = [...readByTheLastStep].at(-1) as string;
    sim.state.pool.delete(gone);
    sim.state.assignments.delete(gone);
    await letClaimRunOut(exportId);
    const callsBefore = sim.apiCalls().length;
    const again = await redelivered(lastStep);
    expect(await deliver(again, lambdaContext('exporter', 15 * 60_000))).toEqual({ batchItemFailures: [] });
    await acknowledge(again);
    // The redelivery finished what the dead attempt recorded, reading nothing from RingCX again.
    expect(sim.apiCalls().length).toBe(callsBefore);

    const manifest = JSON.parse((await pipeline.readObject(files.manifest)) ?? '{}') as ExportManifest;
    expect(manifest).toMatchObject({ exportId, status: 'complete', invocations: 2, files });
    const text = (await pipeline.readObject(files.export)) ?? '';
    expect(manifest.checksum).toEqual({ algorithm: 'sha256', value: createHash('sha256').update(text).digest('hex') });
    const numbers = parseCsv(text).slice(1).map((r) => (r[0] ?? '').slice(1));
    expect(new Set(numbers)).toEqual(readByTheLastStep);
    expect(numbers).toContain(gone);
    expect(manifest.numbers).toBe(numbers.length);
    expect(manifest.pages).toBe(Math.ceil(readByTheLastStep.size / PAGE_SIZE));
    const drift = parseCsv((await pipeline.readObject(files.drift)) ?? '');
    expect(drift[0]?.[0]).toBe('dnis');
    expect(drift.length - 1).toBe(Object.values(manifest.drift).reduce((sum, n) => sum + n, 0));

    const published = pipeline.stack.json.events.filter((e) => (e.detail as { exportId?: string }).exportId === exportId);
    expect(published).toHaveLength(events);
    for (const event of published) expect(event.detail).toEqual({ exportId, status: 'complete', numbers: manifest.numbers, drift: manifest.drift, files });
    const { dynamo } = createAwsClients(loadConfig(pipeline.stack.env));
    const checkpoint = await dynamo.send(new GetCommand({ TableName: pipeline.stack.env.TABLE_NAME, Key: { pk: `EXPORT#${exportId}`, sk: 'META' } }));
    expect(checkpoint.Item).toMatchObject({ status: 'complete', step: 2 });
    expect(await pipeline.queueDepth(pipeline.stack.queues.exports.url)).toBe(0);
    expect(await pipeline.queueDepth(pipeline.stack.queues.exportsDlq.url)).toBe(0);
  });
});
