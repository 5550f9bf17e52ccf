import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { EventBridgeEvent } from 'aws-lambda';
import { encodeMessageBody } from '../domain/desiredRow';
import { REASSIGNMENT_REQUESTED, type ReassignMessage, ReassignmentDetailSchema } from '../domain/reassignment';
import { logger } from '../observability/powertools';
import { normalizeNumber } from '../domain/phoneNumber';
import type { Dependencies } from '../dependencies';

export type IntakeResult = { status: 'queued'; requestId: string } | { status: 'invalid'; requestId: string; problems: string[] };

/**
 * A "DNIS Reassignment Requested" event → a message on the priority queue, or, when the event is
 * not usable, the event and the reason on the events DLQ (never dropped) plus a
 * "DNIS Reassignment Failed" answer to the caller.
 */
export async function intakeReassignment(rt: Dependencies, event: EventBridgeEvent<string, unknown>): Promise<IntakeResult> {
  const requestId = event.id;
  const problems: string[] = [];
  if (event['detail-type'] !== REASSIGNMENT_REQUESTED) problems.push(`detail-type must be "${REASSIGNMENT_REQUESTED}"`);
  if (!rt.config.EVENT_SOURCES.includes(event.source)) problems.push(`source "${event.source}" is not an allowed sender`);
  const detail = ReassignmentDetailSchema.safeParse(event.detail);
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
    await rt.events.publish('DNIS Reassignment Failed', {
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
    receivedAt: event.time ?? new Date().toISOString(),
  };
  await rt.aws.sqs.send(new SendMessageCommand({ QueueUrl: rt.config.PRIORITY_QUEUE_URL, MessageBody: encodeMessageBody(message) }));
  logger.info('reassignment queued', { requestId, dnis: message.dnis, requestedBy: message.requestedBy, source: event.source, account: event.account });
  return { status: 'queued', requestId };
}
