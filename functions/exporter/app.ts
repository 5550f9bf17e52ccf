import { ExporterConfigSchema, loadFunctionConfig } from '../../shared/config';
import { createDependencies } from '../../shared/dependencies';
import { exportInventory } from '../../shared/exporter/exportInventory';
import { scheduledHandler } from '../../shared/lambda/handler';

const deps = createDependencies(loadFunctionConfig(ExporterConfigSchema));

/** Scheduled (EventBridge Scheduler) or on demand: every number and its routing to S3, plus drift. */
export const handler = scheduledHandler(deps, async (_event, rt, context) => {
  const { config } = rt;
  const accountIds = config.RINGCX_ACCOUNT_IDS ?? (await rt.ringcx.listAccounts()).map((a) => a.accountId).filter((id): id is string => Boolean(id));
  return exportInventory(rt, {
    accountIds,
    pageSize: config.EXPORT_PAGE_SIZE,
    remainingMs: () => context.getRemainingTimeInMillis(),
    safetyMs: 30_000,
  });
});
