import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CORPUS_LIMITS, csvCorpus } from '../../fixtures/csvCorpus';
import { runFile, startIngestPipeline } from '../../helpers/ingest';
import type { Pipeline } from '../../helpers/pipeline';

let pipeline: Pipeline;
beforeAll(async () => {
  pipeline = await startIngestPipeline({ env: CORPUS_LIMITS });
});
afterAll(() => pipeline?.stop());

const corpus = csvCorpus();

describe('CSV corpus through the pipeline (plan mode)', () => {
  it('has at least 25 awkward files', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(25);
  });

  it.each(corpus.map((c) => [c.name, c] as const))('%s', async (name, corpusCase) => {
    const run = await runFile(pipeline, `plan/corpus/${name}`, corpusCase.content);
    const expected = corpusCase.expect;
    if ('file' in expected) {
      expect(run.parse.status).toBe('failed');
      expect(run.summary.status).toBe('failed');
      expect(String(run.summary.fileError)).toMatch(expected.file);
      // A refused file still gets its report, with the reason on a row of its own.
      expect(run.results[1]?.[2]).toBe('rejected');
      expect(run.results[1]?.[4]).toMatch(expected.file);
      return;
    }
    expect(run.summary.status).toBe('completed');
    for (const [line, want] of Object.entries(expected.rows)) {
      const [outcome, detail] = Array.isArray(want) ? want : [want, undefined];
      const row = run.rows.get(Number(line));
      expect(row?.outcome, `line ${line}`).toBe(outcome);
      if (detail) expect(row?.detail, `line ${line}`).toMatch(detail);
    }
    expect(run.rows.size, 'every data row has exactly one outcome').toBe(expected.total ?? Object.keys(expected.rows).length);
    if (expected.ignoredColumns) expect(run.summary.ignoredColumns).toEqual(expected.ignoredColumns);
  });

  it('never writes a formula-looking cell un-neutralised', async () => {
    const formula = corpus.find((c) => c.name === 'formula-cells.csv');
    const run = await runFile(pipeline, 'plan/corpus/formula-again.csv', formula?.content ?? '');
    expect(run.failed).toContain(`'=1+2,"'=HYPERLINK(""http://evil"")"`);
    for (const line of [...run.failed.split('\r\n'), ...run.results.flat()]) {
      expect(line).not.toMatch(/^[=+\-@]/);
    }
  });
});
