import type { Context } from 'aws-lambda';
import { ExporterConfigSchema, loadFunctionConfig } from '../../shared/config';
import { createDependencies } from '../../shared/dependencies';
import { ContinuationSchema, queueContinuations } from '../../shared/exporter/continuation';
import { type ExportOptions, exportInventory, type ExportTrigger } from '../../shared/exporter/exportInventory';
import { directHandler, sqsBatchHandler } from '../../shared/lambda/handler';
import type { BatchVerdicts } from '../../shared/lambda/sqsRecords';
import { logger } from '../../shared/observability/powertools';

const deps = createDependencies(loadFunctionConfig(ExporterConfigSchema));
type ExporterDependencies = typeof deps;

/** Room left at the end of an invocation to save the checkpoint and send the continuation (or write the manifest). */
const SAFETY_MS = 30_000;

function optionsFor(rt: ExporterDependencies, context: Context): ExportOptions {
  const { config } = rt;
  return {
    accountIds: async () => config.RINGCX_ACCOUNT_IDS ?? (await rt.ringcx.listAccounts()).map((a) => a.accountId).filter((id): id is string => Boolean(id)),
    pageSize: config.EXPORT_PAGE_SIZE,
    remainingMs: () => context.getRemainingTimeInMillis(),
    safetyMs: SAFETY_MS,
    invocationId: context.awsRequestId,
    continuation: config.EXPORT_QUEUE_URL ? queueContinuations(rt.aws.sqs, config.EXPORT_QUEUE_URL, config.EXPORT_CONTINUE_DELAY_SECONDS) : undefined,
  };
}

/** Scheduled (EventBridge Scheduler, with the tick's time) or on demand: a new export. */
const startExport = directHandler(deps, async (event, rt, context) => exportInventory(rt, optionsFor(rt, context), { kind: 'start', scheduledTime: scheduledTimeOf(event) }));

/** The exports queue (batch size 1): the next step of an export that outlasted its invocation. */
const continueExport = sqsBatchHandler(deps, async (records, rt, context) => {
  const verdicts: BatchVerdicts = new Map();
  for (const record of records) {
    const parsed = ContinuationSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      // Not ours to retry: a malformed message would only fail again until the DLQ.
      logger.error('exports queue message is not a continuation; dropped', { messageId: record.messageId });
      continue;
    }
    const trigger: ExportTrigger = { kind: 'continue', exportId: parsed.data.exportId, step: parsed.data.step };
    const result = await exportInventory(rt, optionsFor(rt, context), trigger);
    if (result.status === 'retry') verdicts.set(record.messageId, { status: 'retry', reason: 'reason' in result ? result.reason : 'retry' });
  }
  return verdicts;
});

/** Every number and its routing to S3, plus drift; continued from the exports queue while it lasts longer than an invocation. */
export const handler = async (event: unknown, context: Context) => {
  if (isSqsEvent(event)) return continueExport(event, context);
  return startExport(event, context);
};

function isSqsEvent(event: unknown): boolean {
  const records = (event as { Records?: { eventSource?: unknown }[] } | null)?.Records;
  return Array.isArray(records) && records.length > 0 && records.every((r) => r?.eventSource === 'aws:sqs');
}

/** The schedule's input carries its tick (`<aws.scheduler.scheduled-time>`), so a retried tick resumes the same export. */
function scheduledTimeOf(event: unknown): string | undefined {
  const value = (event as { scheduledTime?: unknown } | null)?.scheduledTime;
  return typeof value === 'string' ? value : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
