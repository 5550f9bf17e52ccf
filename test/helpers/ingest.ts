import { demoTenant, type TenantSeed } from '../../local/ringcx-simulator/fixtures';
import type { LocalStackOptions } from '../../local/stack';
import { byLine, type Pipeline, startPipeline } from './pipeline';

/**
 * RingCX's 120 requests a minute, time-scaled ×60 on both sides (simulator budget and worker
 * limiter), so a test exercises the same pacing in seconds instead of minutes.
 */
export const SCALED_BUDGET = {
  env: { RINGCX_REQUESTS_PER_WINDOW: '120', RINGCX_WINDOW_MS: '1000', RINGCX_TIMEOUT_MS: '2000' },
  knobs: { rateLimit: { budget: 120, windowMs: 1_000 } },
};

/** The demo tenant plus numbers in every starting state the outcome tests need. */
export function outcomeTenant(): TenantSeed {
  const seed = demoTenant();
  seed.pool?.push(
    { dnis: '12125550120', reservedAccountId: '99990001', dnisDescription: 'Old description' },
    { dnis: '12125550121', reservedAccountId: '99990001', dnisDescription: 'Unrouted' },
    { dnis: '12125550122', reservedAccountId: '99990001', dnisDescription: 'Moving', assignment: { type: 'gate', id: 4501, dnisDescription: 'Moving' } },
    { dnis: '12125550123', reservedAccountId: '99990001', dnisDescription: 'Retiring', assignment: { type: 'gate', id: 4501, dnisDescription: 'Retiring' } },
    { dnis: '12125550124', reservedAccountId: '99990001', dnisDescription: 'Stable', assignment: { type: 'gate', id: 4501, dnisDescription: 'Stable' } },
    { dnis: '12125550125', reservedAccountId: '99990001', dnisDescription: 'Live', assignment: { type: 'gate', id: 4501, dnisDescription: 'Live' } },
    { dnis: '12125550126', reservedAccountId: '99990001', dnisDescription: 'Live too', assignment: { type: 'gate', id: 4501, dnisDescription: 'Live too' } },
  );
  return seed;
}

export async function startIngestPipeline(options: LocalStackOptions & { batchSize?: number } = {}): Promise<Pipeline> {
  return startPipeline({
    ...options,
    simulator: { seed: outcomeTenant(), ...options.simulator, knobs: { ...SCALED_BUDGET.knobs, ...options.simulator?.knobs } },
    env: { ...SCALED_BUDGET.env, ...options.env },
  });
}

export interface FileRun {
  jobId: string;
  parse: { status: string; jobId: string; total?: number; accepted?: number; rejected?: number; reason?: string };
  results: string[][];
  rows: ReturnType<typeof byLine>;
  failed: string;
  summary: Record<string, unknown> & { outcomes: Record<string, number>; rows: { total: number; accepted: number; rejected: number } };
}

/** Upload → parser (S3 event) → worker batches until the queue is empty → the three reports. */
export async function runFile(pipeline: Pipeline, key: string, csv: string | Buffer): Promise<FileRun> {
  const event = await pipeline.putCsv(key, csv);
  const [parse] = (await pipeline.runParser(event)) as FileRun['parse'][];
  if (!parse) throw new Error('parser returned nothing');
  await pipeline.drain();
  return readRun(pipeline, key, parse);
}

export async function readRun(pipeline: Pick<Pipeline, 'report'>, key: string, parse: FileRun['parse']): Promise<FileRun> {
  const relative = key.replace(/^(incoming|plan)\//, '').replace(/\.csv$/i, '');
  const { safeRelativePath } = await import('../../shared/parser/uploadedObject');
  const report = await pipeline.report(`results/${safeRelativePath(relative)}/${parse.jobId}`);
  return {
    jobId: parse.jobId,
    parse,
    results: report.results,
    rows: byLine(report.results),
    failed: report.failed,
    summary: report.summary as FileRun['summary'],
  };
}
