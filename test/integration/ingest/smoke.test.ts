import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { byLine, type Pipeline, startPipeline } from '../../helpers/pipeline';

let pipeline: Pipeline;
beforeAll(async () => {
  pipeline = await startPipeline();
});
afterAll(() => pipeline?.stop());

it('runs the example file end to end', async () => {
  const event = await pipeline.putCsv('incoming/examples/numbers.csv', readFileSync('examples/numbers.csv'));
  const parsed = (await pipeline.runParser(event)) as { jobId: string }[];
  console.log(parsed);
  await pipeline.drain();
  const prefix = `results/examples/numbers/${parsed[0]?.jobId}`;
  const report = await pipeline.report(prefix);
  console.log(report.results.map((r) => r.join(' | ')).join('\n'));
  console.log(report.failed);
  console.log(JSON.stringify(report.summary, null, 2));
  expect(byLine(report.results).size).toBeGreaterThan(0);
});
