import { loadConfig } from '../../shared/config';
import { exportInventory } from '../../shared/exporter/exportInventory';
import { lambdaHandler } from '../../shared/lambda/handler';
import { createDependencies } from '../../shared/dependencies';

const config = loadConfig();
const deps = createDependencies(config);

/** Scheduled (EventBridge Scheduler) or on demand: every number and its routing to S3, plus drift. */
export const handler = lambdaHandler(async (_event: unknown, context) => {
  const accountIds = config.RINGCX_ACCOUNT_IDS ?? (await deps.ringcx.listAccounts()).map((a) => a.accountId).filter((id): id is string => Boolean(id));
  return exportInventory(deps, {
    accountIds,
    pageSize: config.EXPORT_PAGE_SIZE,
    remainingMs: () => context.getRemainingTimeInMillis(),
    safetyMs: 30_000,
  });
});
