import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../observability/powertools';
import type { WorkerDependencies as Dependencies } from '../dependencies';
import { groupBy } from './groupBy';
import { METRIC_NAMES, type RowCostClass, rowCostClass } from '../contracts';
import type { RecordVerdict } from '../lambda/sqsRecords';
import { describeFailure } from './invocation';
import type { RowDelivery } from './rowMessage';

/** SendMessageBatch calls in flight while handing rows on. */
const HAND_ON_CONCURRENCY = 8;

export interface DeferredRow extends RowDelivery {
  reason: string;
}

/**
 * Rows the engine did not start before the deadline go back on the queue of their cost class (the
 * bulk queue for cheap rows, the work queue for costly ones) as fresh messages (the same row, one
 * more deferral), and their delivery counts as done. Left as batch item
 * failures they would wait out a whole visibility timeout and spend a receive for work that was
 * never tried: a batch of costly rows needs several invocations, more than maxReceiveCount allows.
 * A row whose fresh copy could not be sent stays a batch item failure, so it is never lost; a copy
 * sent by a delivery that then dies is a duplicate, which the outcome record absorbs.
 */
export async function handOnDeferred(rt: Dependencies, deferred: DeferredRow[]): Promise<Map<string, RecordVerdict>> {
  const verdicts = new Map<string, RecordVerdict>();
  const sent: DeferredRow[] = [];
  const queueUrl = { cheap: rt.config.BULK_QUEUE_URL, costly: rt.config.WORK_QUEUE_URL };
  const chunks = [...groupBy(deferred, (d) => rowCostClass(d.message))].flatMap(([costClass, rows]) =>
    Array.from({ length: Math.ceil(rows.length / 10) }, (_, i) => ({ url: queueUrl[costClass as RowCostClass], chunk: rows.slice(i * 10, i * 10 + 10) })),
  );
  // A bulk batch can hand on thousands of rows: several SendMessageBatch calls at once.
  const handOnChunk = async ({ url, chunk }: (typeof chunks)[number]) => {
    let failedIds = new Set<string>();
    try {
      const answer = await rt.aws.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: chunk.map((d, index) => ({ Id: String(index), MessageBody: JSON.stringify({ ...d.message, deferrals: (d.message.deferrals ?? 0) + 1 }) })),
        }),
      );
      failedIds = new Set((answer.Failed ?? []).map((f) => f.Id ?? ''));
    } catch (error) {
      failedIds = new Set(chunk.map((_, index) => String(index)));
      logger.warn('deferred rows could not be handed on; they wait for redelivery', { rows: chunk.length, error: describeFailure(error) });
    }
    chunk.forEach((d, index) => {
      if (failedIds.has(String(index))) {
        verdicts.set(d.record.messageId, { status: 'retry', reason: d.reason });
      } else {
        sent.push(d);
        verdicts.set(d.record.messageId, { status: 'done' });
      }
    });
  };
  for (let i = 0; i < chunks.length; i += HAND_ON_CONCURRENCY) await Promise.all(chunks.slice(i, i + HAND_ON_CONCURRENCY).map(handOnChunk));
  if (sent.length > 0) {
    logger.info('rows handed on for the next invocation', { rows: sent.length, reason: sent[0]?.reason });
    metrics.addMetric(METRIC_NAMES.rowsDeferred, MetricUnit.Count, sent.length);
  }
  // Their last-delivery marks no longer stand: the rows live on in the fresh messages.
  const marked = groupBy(
    sent.filter((d) => d.record.receiveCount >= rt.config.MAX_RECEIVE_COUNT),
    (d) => d.message.jobId,
  );
  for (const [jobId, items] of marked) {
    try {
      await rt.store.withdrawLastAttempts(jobId, items.map((d) => d.message.line));
    } catch (error) {
      // A sweep may then record such a row as gave-up early; its fresh copy replaces that outcome.
      logger.warn('last-delivery marks of handed-on rows not withdrawn', { jobId, error: describeFailure(error) });
    }
  }
  return verdicts;
}
