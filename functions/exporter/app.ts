import { loadConfig } from '../../shared/config';
import { exportInventory } from '../../shared/exporter/exportInventory';
import { lambdaHandler } from '../../shared/lambda/handler';
import { createRuntime } from '../../shared/dependencies';

const config = loadConfig();
const runtime = createRuntime(config);

/** Scheduled (EventBridge Scheduler) or on demand: every number and its routing to S3, plus drift. */
export const handler = lambdaHandler(async (_event: unknown, context) => {
  const accountIds = config.RINGCX_ACCOUNT_IDS ?? (await runtime.ringcx.listAccounts()).map((a) => a.accountId).filter((id): id is string => Boolean(id));
  return exportInventory(runtime, {
    accountIds,
    pageSize: config.EXPORT_PAGE_SIZE,
    remainingMs: () => context.getRemainingTimeInMillis(),
    safetyMs: 30_000,
  });
});
