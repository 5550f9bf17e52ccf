import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { reassignmentEvent } from '../../helpers/events';
import { startIngestPipeline } from '../../helpers/ingest';
import type { Pipeline } from '../../helpers/pipeline';

const request = reassignmentEvent;

const valid = (extra: Record<string, unknown> = {}) => ({
  dnis: '+1 212 555 0122',
  target: { type: 'queue', id: 4503 },
  requestedBy: 'crm:agent-42',
  reason: 'CHG-1234 move to technical support',
  ...extra,
});

describe('EventBridge reassignments', () => {
  let pipeline: Pipeline;
  let sim: RingCxSimulator;
  const events = (type: string) => pipeline.stack.json.events.filter((e) => e.detailType === type);

  beforeAll(async () => {
    pipeline = await startIngestPipeline();
    sim = pipeline.stack.simulator as RingCxSimulator;
  });
  afterAll(() => pipeline?.stop());
  beforeEach(() => sim.reset());

  const send = async (event: ReturnType<typeof reassignmentEvent>) => {
    const result = await pipeline.intake(event, lambdaContext('intake'));
    await pipeline.drainPriority();
    return result;
  };

  it('moves the number, audits who and why, and answers "DNIS Reassigned"', async () => {
    const event = request(valid({ expectedCurrentTarget: { type: 'queue', id: 4501 }, description: 'Tech support' }));
    expect(await send(event)).toMatchObject({ status: 'queued' });
    expect(sim.state.assignments.get('12125550122')).toMatchObject({ type: 'gate', id: 4503, dnisDescription: 'Tech support' });
    expect(events('DNIS Reassigned').at(-1)?.detail).toMatchObject({
      requestId: event.id,
      dnis: '12125550122',
      from: 'queue:4501',
      to: 'queue:4503',
      requestedBy: 'crm:agent-42',
    });
    const { JobStore } = await import('../../../shared/store/jobStore');
    const { createAwsClients } = await import('../../../shared/aws/clients');
    const { loadConfig } = await import('../../../shared/config');
    const config = loadConfig(pipeline.stack.env);
    const trail = await new JobStore(createAwsClients(config).dynamo, config.TABLE_NAME, { retentionDays: 1 }).auditTrail('12125550122');
    expect(trail).toMatchObject([
      { requestedBy: 'crm:agent-42', reason: 'CHG-1234 move to technical support', before: { type: 'gate', id: 4501 }, after: { type: 'gate', id: 4503 }, outcome: 'reassigned' },
    ]);
  });

  it('refuses a stale expectedCurrentTarget and leaves routing alone', async () => {
    const event = request(valid({ expectedCurrentTarget: { type: 'visual_ivr', id: 701 } }));
    await send(event);
    expect(sim.state.assignments.get('12125550122')).toMatchObject({ type: 'gate', id: 4501 });
    expect(events('DNIS Reassignment Failed').at(-1)?.detail).toMatchObject({
      requestId: event.id,
      reason: expect.stringMatching(/stale request: the number is on queue:4501, not visual_ivr:701/),
    });
  });

  it('keeps an invalid event on the DLQ with a reason a person can act on', async () => {
    const event = request({ dnis: 'call me', target: { type: 'fax', id: -1 }, reason: '' });
    expect(await send(event)).toMatchObject({ status: 'invalid' });
    const dead = await pipeline.stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: pipeline.stack.queues.eventsDlq.url, MaxNumberOfMessages: 10 }));
    const body = JSON.parse(dead.Messages?.[0]?.Body ?? '{}');
    expect(body.event.id).toBe(event.id);
    expect(body.problems).toEqual(
      expect.arrayContaining([
        'target.type: "fax" is not one of queue, visual_ivr, cloud_route_profile, tracking_group',
        'target.id: Too small: expected number to be >0',
        'requestedBy: Invalid input: expected string, received undefined',
      ]),
    );
    expect(events('DNIS Reassignment Failed').at(-1)?.detail).toMatchObject({ requestId: event.id });
    expect(sim.apiCalls()).toEqual([]);
  });

  it('refuses senders that are not allowed', async () => {
    const event = request(valid(), { source: 'someone.else' });
    expect(await send(event)).toMatchObject({ status: 'invalid', problems: ['source "someone.else" is not an allowed sender'] });
  });

  it('moves the number once when the event is delivered twice', async () => {
    const event = request(valid({ target: { type: 'visual_ivr', id: 702 } }));
    await pipeline.intake(event, lambdaContext('intake'));
    await pipeline.intake(event, lambdaContext('intake'));
    await pipeline.drainPriority();
    const routing = sim.state.events.filter((e) => e.dnis === '12125550122' && ['move', 'assign', 'unassign'].includes(e.kind));
    expect(routing.map((e) => e.kind)).toEqual(['unassign', 'assign']);
    expect(events('DNIS Reassigned').filter((e) => (e.detail as { requestId: string }).requestId === event.id)).toHaveLength(1);
  });
});

describe('maintenance window', () => {
  let pipeline: Pipeline;
  let sim: RingCxSimulator;
  const opensInMs = 4_000;
  // Set before the pipeline starts: the worker reads MAINTENANCE_WINDOW once, at cold start. Far
  // enough ahead that a slow start on a loaded machine still leaves the window a few seconds away.
  // On a whole second: the window is written as HH:MM:SS, so it opens at the start of that second.
  const windowStart = new Date(Math.ceil((Date.now() + 30_000) / 1000) * 1000);

  beforeAll(async () => {
    const hhmmss = (d: Date) => d.toISOString().slice(11, 19);
    pipeline = await startIngestPipeline({
      env: {
        MAINTENANCE_WINDOW: JSON.stringify({ timeZone: 'UTC', start: hhmmss(windowStart), end: hhmmss(new Date(windowStart.getTime() + 3_600_000)) }),
      },
    });
    sim = pipeline.stack.simulator as RingCxSimulator;
  });
  afterAll(() => pipeline?.stop());

  it('holds a live move until the window opens, then applies it; an unassigned number goes at once', async () => {
    // Wait until the window is a few seconds away.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, windowStart.getTime() - Date.now() - opensInMs)));
    const live = request(valid());
    const idle = request(valid({ dnis: '12125550121', target: { type: 'queue', id: 4502 } }));
    await pipeline.intake(live, lambdaContext('intake'));
    await pipeline.intake(idle, lambdaContext('intake'));
    await pipeline.drainPriority();
    expect(sim.state.assignments.get('12125550121')).toMatchObject({ id: 4502 });
    expect(sim.state.assignments.get('12125550122')).toMatchObject({ id: 4501 });
    expect(Date.now()).toBeLessThan(windowStart.getTime());

    // Nothing is dropped: the request waits on the queue and is applied once the window opens.
    while (Date.now() < windowStart.getTime() + 2_000) {
      await pipeline.drainPriority();
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await pipeline.drainPriority();
    expect(sim.state.assignments.get('12125550122')).toMatchObject({ id: 4503 });
    const reassigned = pipeline.stack.json.events.find((e) => e.detailType === 'DNIS Reassigned' && (e.detail as { requestId: string }).requestId === live.id);
    expect(reassigned?.detail).toMatchObject({ heldSince: expect.any(String) });
    const moveAt = sim.state.events.find((e) => e.dnis === '12125550122' && e.kind === 'assign')?.at ?? 0;
    expect(moveAt).toBeGreaterThanOrEqual(windowStart.getTime());
  });
});
