import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EMPTY_FLUSH_WARNING, metrics } from '../../../shared/observability/powertools';

/** Everything the process writes while `run` runs, from both streams. */
function captureOutput(run: () => void): string {
  const chunks: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }),
  );
  try {
    run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return chunks.join('');
}

afterEach(() => metrics.clearMetrics());

describe('Powertools metrics', () => {
  it('flushes an invocation without metrics silently', () => {
    const output = captureOutput(() => {
      metrics.publishStoredMetrics();
      metrics.publishStoredMetrics();
    });
    expect(output).not.toContain(EMPTY_FLUSH_WARNING);
    expect(output).toBe('');
  });

  it('still publishes real metrics as EMF', () => {
    const output = captureOutput(() => {
      metrics.addMetric('CredentialsMissing', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    });
    const emf = JSON.parse(output.trim()) as { CredentialsMissing: number; _aws: { CloudWatchMetrics: { Namespace: string }[] } };
    expect(emf.CredentialsMissing).toBe(1);
    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe('DnisSync');
  });

  it('passes its other warnings on to the structured logger', () => {
    const output = captureOutput(() => metrics.addDimension('', 'x'));
    expect(output).toMatch(/"level":"WARN".*doesn't meet the requirements/);
  });
});
