import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it, vi } from 'vitest';
import { IntakeConfigSchema, loadFunctionConfig } from '../../../shared/config';
import { ReassignMessageSchema, ReassignmentFailedDetailSchema } from '../../../shared/contracts';
import { createDependencies } from '../../../shared/dependencies';
import { intakeReassignment } from '../../../shared/intake/intake';
import { RESOURCE_NAMES_FOR_TESTS } from '../../helpers/functionEnv';
import { reassignmentEvent } from '../../helpers/events';

/** The intake against a recording SQS client and event publisher: what it queues, what it answers. */
function intake() {
  const config = loadFunctionConfig(IntakeConfigSchema, RESOURCE_NAMES_FOR_TESTS);
  const published: { detailType: string; detail: Record<string, unknown> }[] = [];
  const rt = createDependencies(config, { events: { publish: async (detailType, detail) => void published.push({ detailType, detail }) } });
  const sent: { QueueUrl?: string | undefined; MessageBody?: string | undefined }[] = [];
  vi.spyOn(rt.aws.sqs, 'send').mockImplementation(async (command: unknown) => {
    if (command instanceof SendMessageCommand) sent.push(command.input);
    return {};
  });
  return { rt, sent, published };
}

const detail = (type: string) => ({ dnis: '(212) 555-0122', target: { type, id: 701 }, requestedBy: 'crm:agent-42', reason: 'CHG-1' });

describe('intakeReassignment', () => {
  // The one target-type table (shared/contracts/targets.ts) is the CSV's: names files accept, events accept.
  it.each([
    ['ivr', 'visualIvr'],
    ['tracgroup', 'trackingGroup'],
    ['Visual IVR', 'visualIvr'],
    ['queue', 'gate'],
  ])('queues an event whose target type is written "%s"', async (written, type) => {
    const { rt, sent, published } = intake();
    const event = reassignmentEvent(detail(written));
    expect(await intakeReassignment(rt, event)).toEqual({ status: 'queued', requestId: event.id });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.QueueUrl).toBe(RESOURCE_NAMES_FOR_TESTS.PRIORITY_QUEUE_URL);
    const message = ReassignMessageSchema.parse(JSON.parse(sent[0]?.MessageBody ?? ''));
    expect(message).toMatchObject({ dnis: '12125550122', target: { type, id: 701 }, receivedAt: event.time });
    expect(published).toEqual([]);
  });

  it('sets an unknown target type aside on the events DLQ and answers with the contract\'s failure detail', async () => {
    const { rt, sent, published } = intake();
    const event = reassignmentEvent(detail('fax'));
    expect(await intakeReassignment(rt, event)).toMatchObject({ status: 'invalid', problems: ['target.type: "fax" is not one of queue, visual_ivr, cloud_route_profile, tracking_group'] });
    expect(sent.map((m) => m.QueueUrl)).toEqual([RESOURCE_NAMES_FOR_TESTS.EVENTS_DLQ_URL]);
    expect(published.map((p) => p.detailType)).toEqual(['DNIS Reassignment Failed']);
    expect(ReassignmentFailedDetailSchema.safeParse(published[0]?.detail).success).toBe(true);
  });
});
