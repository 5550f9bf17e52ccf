import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { METRIC_NAMES, METRICS_NAMESPACE, rowsMetricName, SERVICE_NAMES } from '../../../shared/contracts';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import { type Pipeline, startPipeline } from '../../helpers/pipeline';

/**
 * The dashboard and the alarms (infra/) read metrics by namespace, name and `service` dimension,
 * all taken from shared/contracts. This runs the real handlers against the local fakes (fauxqs,
 * DynamoDB Local, the RingCX simulator), captures what they print, and checks that those very
 * metrics come out as EMF, with the fields CloudWatch and the alarms select on, and that the log
 * lines carry the fields a person filters them by.
 */

type Emf = Record<string, unknown> & { _aws?: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] } };

/** Every JSON line written to stdout while `run` runs (the spy passes each write through). */
async function printedLines(run: () => Promise<unknown>): Promise<Emf[]> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write');
  spy.mockImplementation(function (this: unknown, chunk: string | Uint8Array) {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Emf);
}

/** Metric name → the `service` each EMF blob that carries it names, for blobs in our namespace. */
function emitted(lines: Emf[]): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  for (const line of lines) {
    for (const directive of line._aws?.CloudWatchMetrics ?? []) {
      if (directive.Namespace !== METRICS_NAMESPACE) continue;
      expect(directive.Dimensions.flat()).toContain('service');
      for (const { Name } of directive.Metrics) {
        if (!names.has(Name)) names.set(Name, new Set());
        names.get(Name)?.add(String(line.service));
      }
    }
  }
  return names;
}

let pipeline: Pipeline;
beforeAll(async () => {
  // The in-process harness loads every handler in one module graph, so they share one service
  // name: the worker's, whose metrics the dashboard and the 429 alarm read. Local runs keep
  // metrics off (they would flood the console); here they are what is under test.
  pipeline = await startPipeline({ env: { POWERTOOLS_SERVICE_NAME: SERVICE_NAMES.worker, POWERTOOLS_METRICS_DISABLED: 'false' } });
});
afterAll(() => pipeline?.stop());

describe('metrics and log fields the dashboard and alarms rely on', () => {
  it('the worker emits the RingCX call counts and a Rows_<outcome> per row, under its service name', async () => {
    const event = await pipeline.putCsv('incoming/metrics.csv', 'dnis,description,target_type,target_id\n12125550171,one,queue,4501\n12125550172,two,ivr,701\nnot a number,three,queue,4501\n');
    const lines = await printedLines(async () => {
      await pipeline.runParser(event);
      await pipeline.drain();
    });
    const names = emitted(lines);
    for (const name of [METRIC_NAMES.ringCxCalls, METRIC_NAMES.ringCx429, METRIC_NAMES.ringCxRetries, rowsMetricName('created'), rowsMetricName('rejected')]) {
      expect(names.get(name), name).toEqual(new Set([SERVICE_NAMES.worker]));
    }
    // One count per row (EMF lists repeated values of one invocation as an array).
    const created = lines.flatMap((line) => [line[rowsMetricName('created')] ?? []].flat() as number[]);
    expect(created.reduce((sum, value) => sum + value, 0)).toBe(2);

    // Log lines: level, message, the service, and the invocation they belong to. "row outcome" is
    // the worker's line per row, the one a person filters on to follow a number.
    const rowOutcomes = lines.filter((line) => line.message === 'row outcome');
    expect(rowOutcomes).toHaveLength(2);
    for (const log of rowOutcomes) {
      expect(log).toMatchObject({ level: 'INFO', service: SERVICE_NAMES.worker, function_name: expect.any(String), function_request_id: expect.any(String), timestamp: expect.any(String), jobId: expect.any(String), dnis: expect.any(String), outcome: 'created' });
    }
  });

  it('the sweeper emits the two metrics its alarms read, under its own service name', async () => {
    process.env.POWERTOOLS_SERVICE_NAME = SERVICE_NAMES.sweeper;
    vi.resetModules();
    const sweeper = (await import('../../../functions/sweeper/app')).handler;
    const names = emitted(await printedLines(() => sweeper({}, lambdaContext('sweeper'))));
    for (const name of [METRIC_NAMES.stalledJobs, METRIC_NAMES.oldestOpenJobAgeSeconds]) {
      expect(names.get(name), name).toEqual(new Set([SERVICE_NAMES.sweeper]));
    }
  });
});
