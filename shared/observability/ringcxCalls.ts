import { AsyncLocalStorage } from 'node:async_hooks';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMES } from '../contracts';
import type { CallRecord } from '../ringcx/transport';
import { metrics } from './powertools';

/** RingCX HTTP attempts made on behalf of one unit of work (a batch, a job, an export). */
export class CallTally {
  total = 0;
  rateLimited = 0;
  retries = 0;
  readonly byEndpoint = new Map<string, number>();

  add(call: CallRecord): void {
    this.total += 1;
    if (call.outcome === 429) this.rateLimited += 1;
    if (call.backoffMs !== undefined) this.retries += 1;
    const key = `${call.endpoint}|${call.outcome}`;
    this.byEndpoint.set(key, (this.byEndpoint.get(key) ?? 0) + 1);
  }

  /** RingCX calls by endpoint and status, 429s and retries, as CloudWatch metrics. */
  publish(): void {
    metrics.addMetric(METRIC_NAMES.ringCxCalls, MetricUnit.Count, this.total);
    metrics.addMetric(METRIC_NAMES.ringCx429, MetricUnit.Count, this.rateLimited);
    metrics.addMetric(METRIC_NAMES.ringCxRetries, MetricUnit.Count, this.retries);
    for (const [key, count] of this.byEndpoint) {
      const [endpoint, status] = key.split('|') as [string, string];
      const single = metrics.singleMetric();
      single.addDimensions({ endpoint, status });
      single.addMetric(METRIC_NAMES.ringCxCallsByEndpoint, MetricUnit.Count, count);
    }
  }
}

const scope = new AsyncLocalStorage<CallTally>();

export function recordRingCxCall(call: CallRecord): void {
  scope.getStore()?.add(call);
}

export async function withCallTally<T>(work: () => Promise<T>): Promise<{ result: T; tally: CallTally }> {
  const tally = new CallTally();
  const result = await scope.run(tally, work);
  return { result, tally };
}
