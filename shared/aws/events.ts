import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';

export interface EventPublisher {
  publish(detailType: string, detail: Record<string, unknown>): Promise<void>;
}

/** Puts one event on the system's bus; a failed entry is an error, not a silent drop. */
export function eventBridgePublisher(client: EventBridgeClient, busName: string, source: string): EventPublisher {
  return {
    async publish(detailType, detail) {
      const result = await client.send(
        new PutEventsCommand({ Entries: [{ EventBusName: busName, Source: source, DetailType: detailType, Detail: JSON.stringify(detail) }] }),
      );
      if (result.FailedEntryCount) {
        const entry = result.Entries?.find((e) => e.ErrorCode);
        throw new Error(`EventBridge refused "${detailType}": ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`);
      }
    },
  };
}
