import { DeleteMessageBatchCommand, PurgeQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import type { JobStore } from '../../../shared/store/jobStore';
import type { SweepResult } from '../../../shared/sweeper/sweeper';
import { reassignmentEvent } from '../../helpers/events';
import { startIngestPipeline } from '../../helpers/ingest';
import type { Pipeline } from '../../helpers/pipeline';

const DNIS = '12125550122';
const valid = (extra: Record<string, unknown> = {}) => ({
  dnis: '+1 212 555 0122',
  target: { type: 'queue', id: 4503 },
  requestedBy: 'crm:agent-42',
  reason: 'CHG-1234 move to technical support',
  ...extra,
});

interface Harness {
  pipeline: Pipeline;
  sim: RingCxSimulator;
  store: JobStore;
  sweep: () => Promise<SweepResult>;
}

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const pipeline = await startIngestPipeline({ maxReceiveCount: 3, env: { RINGCX_MAX_ATTEMPTS: '1', SWEEP_INTERVAL_SECONDS: '1', WORK_VISIBILITY_TIMEOUT_SECONDS: '1', ...env } });
  const sweeper = (await import('../../../functions/sweeper/app')).handler;
  const { JobStore } = await import('../../../shared/store/jobStore');
  const { createAwsClients } = await import('../../../shared/aws/clients');
  const { loadConfig } = await import('../../../shared/config');
  const config = loadConfig(pipeline.stack.env);
  return {
    pipeline,
    sim: pipeline.stack.simulator as RingCxSimulator,
    store: new JobStore(createAwsClients(config).dynamo, config.TABLE_NAME, { retentionDays: 1 }),
    sweep: () => sweeper({}, lambdaContext('sweeper')),
  };
}

const answers = (h: Harness, requestId: string) =>
  h.pipeline.stack.json.events
    .filter((e) => (e.detailType === 'DNIS Reassigned' || e.detailType === 'DNIS Reassignment Failed') && (e.detail as { requestId?: string }).requestId === requestId)
    .map((e) => ({ type: e.detailType, ...(e.detail as Record<string, unknown>) }));
const routingChanges = (h: Harness) => h.sim.state.events.filter((e) => e.dnis === DNIS && ['move', 'assign', 'unassign', 'update'].includes(e.kind));

async function send(h: Harness, event: ReturnType<typeof reassignmentEvent>) {
  await h.pipeline.intake(event, lambdaContext('intake'));
  await h.pipeline.drainPriority();
}

describe('reassignment answers', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h?.pipeline.stop());
  beforeEach(async () => {
    h.sim.reset();
    h.sim.setKnobs({ faults: { errorRate: 0 } });
    h.pipeline.stack.json.refusals.clear();
    for (const queue of [h.pipeline.stack.queues.priority, h.pipeline.stack.queues.priorityDlq]) {
      await h.pipeline.stack.sqs.send(new PurgeQueueCommand({ QueueUrl: queue.url }));
    }
  });

  it('answers "stale" and moves nothing when someone else moves the number between the check and the apply', async () => {
    // The number moves from queue 4501 to 4502 right after the request's first read (the one its
    // expectation is checked on): the fresh read just before the move must see that it no longer holds.
    const state = h.sim.state;
    const search = state.visibleRecords.bind(state);
    let searches = 0;
    state.visibleRecords = (principal) => {
      searches += 1;
      const seen = structuredClone(search(principal));
      if (searches === 1) state.assignments.set(DNIS, { ...(state.assignments.get(DNIS) as NonNullable<ReturnType<typeof state.assignments.get>>), id: 4502 });
      return seen;
    };
    const event = reassignmentEvent(valid({ expectedCurrentTarget: { type: 'queue', id: 4501 } }));
    await send(h, event);
    expect(h.sim.state.assignments.get(DNIS)).toMatchObject({ type: 'gate', id: 4502 });
    expect(routingChanges(h)).toEqual([]);
    expect(answers(h, event.id)).toEqual([expect.objectContaining({ type: 'DNIS Reassignment Failed', outcome: 'stale', reason: expect.stringMatching(/stale/) })]);
  });

  it('records the move before answering: an answer the bus refuses is sent later and tells what RingCX holds', async () => {
    h.pipeline.stack.json.refusals.set('DNIS Reassigned', 1_000);
    const event = reassignmentEvent(valid({ expectedCurrentTarget: { type: 'queue', id: 4501 } }));
    await send(h, event);
    expect(h.sim.state.assignments.get(DNIS)).toMatchObject({ type: 'gate', id: 4503 });
    // Every redelivery found the request recorded: no second move, and never a "stale" answer.
    expect(routingChanges(h).map((e) => e.kind)).toEqual(['unassign', 'assign']);
    expect(answers(h, event.id)).toEqual([]);
    expect(await h.store.getRequest(event.id)).toMatchObject({ outcome: 'reassigned', answerSent: false });

    h.pipeline.stack.json.refusals.clear();
    expect((await h.sweep()).answersSent).toBeGreaterThanOrEqual(1);
    expect(answers(h, event.id)).toEqual([expect.objectContaining({ type: 'DNIS Reassigned', from: 'queue:4501', to: 'queue:4503', outcome: 'reassigned' })]);
    expect(await h.store.getRequest(event.id)).toMatchObject({ answerSent: true });
    await h.sweep();
    expect(answers(h, event.id)).toHaveLength(1);
    // Who asked, as the caller says it, next to what EventBridge vouches for.
    const trail = await h.store.auditTrail(DNIS);
    expect(trail.filter((t) => t.requestId === event.id)).toEqual([
      expect.objectContaining({ requestedBy: 'crm:agent-42', source: 'dnis-sync.requests', account: '000000000000', outcome: 'reassigned' }),
    ]);
  });

  it('processes a request again when the priority DLQ is redriven, replacing the gave-up answer with the real one', async () => {
    h.sim.setKnobs({ faults: { errorRate: 1 } });
    const event = reassignmentEvent(valid({ target: { type: 'visual_ivr', id: 702 } }));
    await send(h, event);
    expect(answers(h, event.id)).toEqual([expect.objectContaining({ type: 'DNIS Reassignment Failed', reason: expect.stringMatching(/^gave up after 3 attempts: 50[03]/) })]);
    expect(await h.pipeline.queueDepth(h.pipeline.stack.queues.priorityDlq.url)).toBe(1);
    expect(h.sim.state.assignments.get(DNIS)).toMatchObject({ type: 'gate', id: 4501 });

    h.sim.setKnobs({ faults: { errorRate: 0 } });
    const { sqs, queues } = h.pipeline.stack;
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.priorityDlq.url, MaxNumberOfMessages: 10 }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queues.priority.url, Entries: (dead.Messages ?? []).map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' })) }));
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queues.priorityDlq.url, Entries: (dead.Messages ?? []).map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })) }));
    await h.pipeline.drainPriority();
    expect(h.sim.state.assignments.get(DNIS)).toMatchObject({ type: 'visualIvr', id: 702 });
    expect(answers(h, event.id).at(-1)).toMatchObject({ type: 'DNIS Reassigned', from: 'queue:4501', to: 'visual_ivr:702' });
    const record = await h.store.getRequest(event.id);
    expect(record).toMatchObject({ outcome: 'reassigned', answerSent: true });
    expect(record?.gaveUp).toBeUndefined();
  });
});

describe('maintenance window: every change that stops or moves routing waits', () => {
  let h: Harness;
  beforeAll(async () => {
    // A window that opens in two hours: now is outside it.
    const start = new Date(Date.now() + 2 * 3_600_000);
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    h = await harness({ MAINTENANCE_WINDOW: JSON.stringify({ timeZone: 'UTC', start: hhmm(start), end: hhmm(new Date(start.getTime() + 3_600_000)) }) });
  });
  afterAll(() => h?.pipeline.stop());

  it('holds a same-target deactivation (isActive: false) of a live number, and lets a description change through', async () => {
    const deactivate = reassignmentEvent(valid({ target: { type: 'queue', id: 4501 }, isActive: false }));
    await send(h, deactivate);
    expect(h.sim.state.assignments.get(DNIS)).toMatchObject({ id: 4501, isActive: true });
    expect(routingChanges(h)).toEqual([]);
    expect(answers(h, deactivate.id)).toEqual([]);
    expect(await h.store.getRequest(deactivate.id)).toBeUndefined();

    const describe = reassignmentEvent(valid({ target: { type: 'queue', id: 4501 }, description: 'Renamed, still routing' }));
    await send(h, describe);
    expect(h.sim.state.assignments.get(DNIS)).toMatchObject({ id: 4501, isActive: true, dnisDescription: 'Renamed, still routing' });
    expect(answers(h, describe.id)).toEqual([expect.objectContaining({ type: 'DNIS Reassigned', outcome: 'updated' })]);
  });
});
