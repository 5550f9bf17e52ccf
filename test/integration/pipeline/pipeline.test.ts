import { ReceiveMessageCommand, SendMessageBatchCommand, ChangeMessageVisibilityBatchCommand } from '@aws-sdk/client-sqs';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { parseCsv, type Pipeline } from '../../helpers/pipeline';
import { runFile, startIngestPipeline } from '../../helpers/ingest';
import { loadConfig } from '../../../shared/config';
import { metrics } from '../../../shared/observability/powertools';
import { ingestObject } from '../../../shared/parser/ingestObject';
import { createDependencies } from '../../../shared/dependencies';

let pipeline: Pipeline;
let sim: RingCxSimulator;

beforeAll(async () => {
  pipeline = await startIngestPipeline();
  sim = pipeline.stack.simulator as RingCxSimulator;
});
afterAll(() => pipeline?.stop());
beforeEach(() => {
  sim.reset();
});

const writes = () => sim.apiCalls().filter((e) => e.method !== 'GET' && !['searchPools', 'searchDnis'].includes(e.route));

const OUTCOME_FILE = [
  'dnis,description,target_type,target_id,on_conflict,action',
  '12125550160,Brand new,queue,4501,,', // 2 created
  '12125550120,New description,,,,', // 3 updated
  '12125550121,,queue,4503,,', // 4 assigned
  '12125550122,,queue,4502,reassign,', // 5 reassigned
  '12125550123,,,,,unassign', // 6 unassigned
  '12125550124,Stable,queue,4501,,', // 7 unchanged
  '12125550125,,queue,4503,fail,', // 8 conflict
  '12125550126,,queue,4503,skip,', // 9 skipped
  'not-a-number,Bad,queue,4501,,', // 10 rejected
  '12125550109,Restricted,queue,4909,,', // 11 failed (409: exists, but in an account hidden from us)
].join('\n');

describe('one file through the real chain', () => {
  it('gives every outcome, changes RingCX accordingly, and writes the three reports', async () => {
    const run = await runFile(pipeline, 'incoming/outcomes.csv', OUTCOME_FILE);
    const outcome = (line: number) => run.rows.get(line)?.outcome;
    expect([2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(outcome)).toEqual([
      'created',
      'updated',
      'assigned',
      'reassigned',
      'unassigned',
      'unchanged',
      'conflict',
      'skipped',
      'rejected',
      'failed',
    ]);
    expect(run.rows.get(10)?.detail).toMatch(/dnis "not-a-number" contains letters/);
    expect(run.rows.get(11)?.detail).toMatch(/^409 the number already exists in RingCX but this user cannot see it/);
    expect(run.rows.get(8)?.detail).toMatch(/assigned to queue:4501 \(Support - General\).*on_conflict=reassign/);

    const state = sim.state;
    expect(state.pool.get('12125550160')).toMatchObject({ dnisDescription: 'Brand new', reservedAccountId: '99990001' });
    expect(state.assignments.get('12125550160')).toMatchObject({ type: 'gate', id: 4501 });
    expect(state.pool.get('12125550120')?.dnisDescription).toBe('New description');
    expect(state.assignments.get('12125550121')).toMatchObject({ type: 'gate', id: 4503 });
    expect(state.assignments.get('12125550122')).toMatchObject({ type: 'gate', id: 4502 });
    expect(state.assignments.has('12125550123')).toBe(false);
    // Conflict and skip leave live routing exactly where it was.
    expect(state.assignments.get('12125550125')).toMatchObject({ type: 'gate', id: 4501 });
    expect(state.assignments.get('12125550126')).toMatchObject({ type: 'gate', id: 4501 });
    expect(state.events.filter((e) => e.kind === 'move').map((e) => e.dnis)).toEqual([]);

    expect(run.summary).toMatchObject({
      status: 'completed',
      mode: 'apply',
      rows: { total: 10, accepted: 9, rejected: 1 },
      outcomes: { created: 1, updated: 1, assigned: 1, reassigned: 1, unassigned: 1, unchanged: 1, conflict: 1, skipped: 1, rejected: 1, failed: 1 },
    });
    expect(run.summary.apiCalls).toBe(sim.apiCalls().length);
    // failed.csv: the header and the failed + rejected rows exactly as they came in, plus the reason.
    expect(parseCsv(run.failed)).toEqual([
      ['dnis', 'description', 'target_type', 'target_id', 'on_conflict', 'action', 'error'],
      ['not-a-number', 'Bad', 'queue', '4501', '', '', run.rows.get(10)?.detail],
      ['12125550109', 'Restricted', 'queue', '4909', '', '', run.rows.get(11)?.detail],
    ]);
    const completed = pipeline.stack.json.events.filter((e) => e.detailType === 'DNIS Import Completed');
    expect(completed.at(-1)?.detail).toMatchObject({ jobId: run.jobId, outcomes: { created: 1 } });
  });

  it('plan mode reports what would happen and writes nothing to RingCX', async () => {
    const run = await runFile(pipeline, 'plan/outcomes.csv', OUTCOME_FILE);
    expect([2, 3, 4, 5, 6, 7, 8, 9].map((line) => run.rows.get(line)?.outcome)).toEqual([
      'would-create',
      'would-update',
      'would-assign',
      'would-reassign',
      'would-unassign',
      'unchanged',
      'conflict',
      'skipped',
    ]);
    // Line 11's number hides in a restricted account: a read-only plan cannot tell it from a new one.
    expect(run.rows.get(11)?.outcome).toBe('would-create');
    expect(run.summary.outcomes).toMatchObject({ 'would-create': 2, 'would-reassign': 1, rejected: 1 });
    expect(run.summary.mode).toBe('plan');
    expect(writes()).toEqual([]);
    expect(sim.state.pool.has('12125550160')).toBe(false);
    expect(sim.state.assignments.get('12125550122')).toMatchObject({ id: 4501 });
  });

  it('uses a handful of calls per batch: one search, one create, one assign per queue', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => `1212555${3000 + i},Line ${i},queue,${4501 + (i % 5)}`);
    const run = await runFile(pipeline, 'incoming/bulk.csv', ['dnis,description,target_type,target_id', ...rows].join('\n'));
    expect(run.summary.outcomes).toEqual({ created: 40 });
    const routes = sim.apiCalls().map((e) => e.route);
    expect(routes.filter((r) => r === 'searchPools')).toHaveLength(1);
    expect(routes.filter((r) => r === 'createDnisPool')).toHaveLength(1);
    expect(routes.filter((r) => r === 'assign.gate')).toHaveLength(5);
    expect(run.summary.apiCallsPerAcceptedRow).toBeLessThanOrEqual(0.35);
  });

  it('keeps non-ASCII descriptions intact all the way to RingCX', async () => {
    const description = 'Café Zürich — 東京 📞';
    const run = await runFile(pipeline, 'incoming/unicode.csv', `dnis,description\n12125550172,${description}\n`);
    expect(run.summary.outcomes).toEqual({ created: 1 });
    expect(sim.state.pool.get('12125550172')?.dnisDescription).toBe(description);
  });

  it('a second run of the same content changes nothing', async () => {
    const csv = 'dnis,description,target_type,target_id\n12125550170,Repeat,queue,4502\n12125550171,Repeat,visual_ivr,701\n';
    await runFile(pipeline, 'incoming/repeat-1.csv', csv);
    const before = writes().length;
    const again = await runFile(pipeline, 'incoming/repeat-2.csv', csv);
    expect(again.summary.outcomes).toEqual({ unchanged: 2 });
    expect(writes().length).toBe(before);
  });
});

describe('bad and repeated input', () => {
  it('completes a file whose every row is invalid, with a report and no RingCX call', async () => {
    const run = await runFile(pipeline, 'incoming/all-bad.csv', 'dnis,target_type,target_id\nabc,queue,1\n123,queue,1\n12125550180,queue,-4\n');
    expect(run.summary).toMatchObject({ status: 'completed', rows: { total: 3, accepted: 0, rejected: 3 }, outcomes: { rejected: 3 } });
    expect([...run.rows.values()].map((r) => r.detail)).toEqual([
      'dnis "abc" contains letters; write the number with digits only',
      'dnis "123" is too short (3 digits)',
      'target_id "-4" must be a positive whole number',
    ]);
    expect(run.failed.trim().split('\r\n')).toHaveLength(4);
    expect(sim.apiCalls()).toEqual([]);
  });

  it('counts the rows the parser rejects in the Rows_rejected metric the dashboard shows, once per parse', async () => {
    const rt = createDependencies(loadConfig(pipeline.stack.env));
    const key = 'incoming/rejected-metric.csv';
    const put = await rt.aws.s3.send(new PutObjectCommand({ Bucket: rt.config.BUCKET_NAME, Key: key, Body: 'dnis,target_type,target_id\nabc,queue,1\n123,queue,1\n' }));
    const added = vi.spyOn(metrics, 'addMetric');
    try {
      const ref = { bucket: rt.config.BUCKET_NAME, key, versionId: put.VersionId, etag: put.ETag };
      expect(await ingestObject(rt, ref)).toMatchObject({ status: 'accepted', rejected: 2, accepted: 0 });
      // A repeated notification of the same version is a duplicate and counts nothing more.
      expect(await ingestObject(rt, ref)).toMatchObject({ status: 'duplicate' });
      expect(added.mock.calls.filter(([name]) => name === 'Rows_rejected')).toEqual([['Rows_rejected', 'Count', 2]]);
    } finally {
      added.mockRestore();
    }
  });

  it('rejects the later copy of a number with "duplicate of line N"', async () => {
    const run = await runFile(pipeline, 'incoming/dupes.csv', 'dnis,description\n12125550190,first\n\n(212) 555-0190,second\n+1 212 555 0191,ok\n');
    expect(run.rows.get(4)).toMatchObject({ outcome: 'rejected', detail: 'duplicate of line 2' });
    expect(run.rows.get(2)?.outcome).toBe('created');
    expect(sim.state.pool.get('12125550190')?.dnisDescription).toBe('first');
  });

  it('starts one job for a repeated S3 notification', async () => {
    const csv = 'dnis,description\n12125550192,once\n12125550193,once\n';
    const event = await pipeline.putCsv('incoming/notified-twice.csv', csv);
    const [first, second] = await Promise.all([pipeline.runParser(event), pipeline.runParser(event)]);
    const statuses = [...(first as { status: string }[]), ...(second as { status: string }[])].map((r) => r.status).sort();
    expect(statuses).toEqual(['accepted', 'duplicate']);
    // Plain creates are cheap rows: they wait on the bulk queue.
    expect(await pipeline.queueDepth(pipeline.stack.queues.bulk.url)).toBe(2);
    expect(await pipeline.queueDepth(pipeline.stack.queues.work.url)).toBe(0);
    expect((await pipeline.runParser(event)) as { status: string }[]).toMatchObject([{ status: 'duplicate' }]);
    await pipeline.drain();
    expect(sim.state.events.filter((e) => e.kind === 'create')).toHaveLength(2);
  });

  it('applies each row once when SQS delivers every message twice', async () => {
    const csv = [
      'dnis,description,target_type,target_id,on_conflict',
      '12125550194,dup delivery,queue,4501,',
      '12125550195,dup delivery,queue,4502,',
      '12125550122,move once,queue,4503,reassign',
    ].join('\n');
    const event = await pipeline.putCsv('incoming/delivered-twice.csv', csv);
    const [parsed] = (await pipeline.runParser(event)) as { jobId: string }[];
    // Duplicate every message on both row queues, as at-least-once delivery may: the two plain
    // assignments wait on the bulk queue, the possible move on the work queue.
    const { sqs, queues } = pipeline.stack;
    for (const [queue, count] of [[queues.bulk, 2], [queues.work, 1]] as const) {
      const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 10 }));
      const messages = received.Messages ?? [];
      expect(messages).toHaveLength(count);
      await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' })) }));
      await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queue.url, Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '', VisibilityTimeout: 0 })) }));
    }
    // Small batches, so the copies land both in the same batch and in later ones.
    await pipeline.drain({ batchSize: 2 });
    const creates = sim.state.events.filter((e) => e.kind === 'create' || e.kind === 'duplicate-create');
    expect(creates.map((e) => `${e.kind}:${e.dnis}`).sort()).toEqual(['create:12125550194', 'create:12125550195']);
    // The one allowed move (remove, then assign: the default unassign-first mode), exactly once.
    const routing = sim.state.events.filter((e) => ['move', 'unassign', 'assign'].includes(e.kind) && e.dnis === '12125550122');
    expect(routing.map((e) => `${e.kind}:${e.before?.id ?? ''}>${e.after?.id ?? ''}`)).toEqual(['unassign:4501>', 'assign:>4503']);
    const { readRun } = await import('../../helpers/ingest');
    const run = await readRun(pipeline, 'incoming/delivered-twice.csv', { status: 'accepted', jobId: parsed?.jobId ?? '' });
    expect(run.results.slice(1).map((r) => r[0])).toEqual(['2', '3', '4']);
    expect(run.summary.outcomes).toEqual({ created: 2, reassigned: 1 });
  });
});
