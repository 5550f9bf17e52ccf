import { randomUUID } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';

/** A "DNIS Reassignment Requested" event as the bus rule delivers it to the intake. */
export function reassignmentEvent(detail: unknown, overrides: Partial<EventBridgeEvent<string, unknown>> = {}): EventBridgeEvent<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'DNIS Reassignment Requested',
    source: 'dnis-sync.requests',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
    ...overrides,
  };
}
