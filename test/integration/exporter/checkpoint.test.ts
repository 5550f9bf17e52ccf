import { createHash } from 'node:crypto';
import { type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { afterAll, beforeAll, expect, it } from 'vitest';
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
 * export refused while this one runs, a step killed after sending a part and then redelivered, and a
 * file larger than one S3 part, written across invocations.
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
});
