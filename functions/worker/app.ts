import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { loadConfig } from '../../shared/config';
import { lambdaHandler } from '../../shared/lambda/handler';
import { toQueueRecords, RetryLater } from '../../shared/lambda/sqsRecords';
import { parseMaintenanceWindow } from '../../shared/domain/maintenanceWindow';
import { syncQueueRecords } from '../../shared/worker/batch';
import { createDependencies } from '../../shared/dependencies';

const config = loadConfig();
const deps = createDependencies(config);
const reassignContext = { window: parseMaintenanceWindow(config.MAINTENANCE_WINDOW), now: () => new Date() };
const processor = new BatchProcessor(EventType.SQS);

/** Work and priority queue batches → RingCX; failed records are reported individually for redelivery. */
export const handler = lambdaHandler(async (event: SQSEvent, context) => {
  const verdicts = await syncQueueRecords(deps, toQueueRecords(event), reassignContext, {
    // The sync engine starts only the RingCX work it can finish before this invocation ends.
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
  return processPartialResponse(
    event,
    async (record: SQSRecord) => {
      const verdict = verdicts.get(record.messageId);
      if (verdict?.status === 'retry') throw new RetryLater(verdict.reason);
    },
    processor,
    // A batch where every row must wait is still a normal answer, not a crash.
    { context, throwOnFullBatchFailure: false },
  );
});
