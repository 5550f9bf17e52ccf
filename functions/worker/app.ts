import { loadFunctionConfig, WorkerConfigSchema } from '../../shared/config';
import { createDependencies } from '../../shared/dependencies';
import { sqsBatchHandler } from '../../shared/lambda/handler';
import { syncQueueRecords } from '../../shared/worker/batch';

const deps = createDependencies(loadFunctionConfig(WorkerConfigSchema));
const reassignContext = { window: deps.config.MAINTENANCE_WINDOW, now: () => new Date() };

/** Work and priority queue batches → RingCX; failed records are reported individually for redelivery. */
export const handler = sqsBatchHandler(deps, (records, rt, context) =>
  syncQueueRecords(rt, records, reassignContext, {
    // The sync engine starts only the RingCX work it can finish before this invocation ends.
    remainingMs: () => context.getRemainingTimeInMillis(),
  }),
);
