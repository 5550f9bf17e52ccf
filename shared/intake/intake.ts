import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DETAIL_TYPES, encodeMessageBody, type ReassignMessage, ReassignmentRequestedDetailSchema } from '../contracts';
import type { EventBridgeEvent } from '../lambda/handler';
import { logger } from '../observability/powertools';
import { normalizeNumber } from '../domain/phoneNumber';
import type { IntakeDependencies } from '../dependencies';

export type IntakeResult = { status: 'queued'; requestId: string } | { status: 'invalid'; requestId: string; problems: string[] };

/**
 * A "DNIS Reassignment Requested" event → a message on the priority queue, or, when the event is
 * not usable, the event and the reason on the events DLQ (never dropped) plus a
 * "DNIS Reassignment Failed" answer to the caller.
 */
export async function intakeReassignment(rt: IntakeDependencies, event: EventBridgeEvent): Promise<IntakeResult> {
  const requestId = event.id;
  const problems: string[] = [];
  if (event['detail-type'] !== DETAIL_TYPES.reassignmentRequested) problems.push(`detail-type must be "${DETAIL_TYPES.reassignmentRequested}"`);
  if (!rt.config.EVENT_SOURCES.includes(event.source)) problems.push(`source "${event.source}" is not an allowed sender`);
  const detail = ReassignmentRequestedDetailSchema.safeParse(event.detail);
  if (!detail.success) problems.push(...detail.error.issues.map((i) => `${i.path.join('.') || 'detail'}: ${i.message}`));
  const number = detail.success
    ? normalizeNumber(detail.data.dnis, { defaultRegion: rt.config.DEFAULT_REGION, validation: rt.config.NUMBER_VALIDATION })
    : undefined;
  if (number && !number.ok) problems.push(`dnis: "${detail.data?.dnis}" ${number.reason}`);

  if (problems.length > 0 || !detail.success || !number?.ok) {
    logger.error('invalid reassignment request sent to the DLQ', { requestId, source: event.source, problems });
    await rt.aws.sqs.send(
      new SendMessageCommand({ QueueUrl: rt.config.EVENTS_DLQ_URL, MessageBody: encodeMessageBody({ problems, event }) }),
    );
    await rt.events.publish(DETAIL_TYPES.reassignmentFailed, {
      requestId,
      dnis: typeof (event.detail as { dnis?: unknown })?.dnis === 'string' ? (event.detail as { dnis: string }).dnis : null,
      reason: `invalid request: ${problems.join('; ')}`,
    });
    return { status: 'invalid', requestId, problems };
  }
  const message: ReassignMessage = {
    v: 1,
    kind: 'reassign',
    requestId,
    source: event.source,
    ...(event.account ? { account: event.account } : {}),
    dnis: number.value.dnis,
    e164: number.value.e164,
    target: detail.data.target,
    ...(detail.data.description !== undefined ? { description: detail.data.description } : {}),
    ...(detail.data.isActive !== undefined ? { isActive: detail.data.isActive } : {}),
    requestedBy: detail.data.requestedBy,
    reason: detail.data.reason,
    ...(detail.data.expectedCurrentTarget !== undefined ? { expectedCurrentTarget: detail.data.expectedCurrentTarget } : {}),
    receivedAt: event.time,
  };
  await rt.aws.sqs.send(new SendMessageCommand({ QueueUrl: rt.config.PRIORITY_QUEUE_URL, MessageBody: encodeMessageBody(message) }));
  logger.info('reassignment queued', { requestId, dnis: message.dnis, requestedBy: message.requestedBy, source: event.source, account: event.account });
  return { status: 'queued', requestId };
}
