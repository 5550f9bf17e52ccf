import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { csvLine } from '../../../shared/csv/writer';
import { runFile, startIngestPipeline } from '../../helpers/ingest';
import { parseCsv, type Pipeline } from '../../helpers/pipeline';

let pipeline: Pipeline;
let sim: RingCxSimulator;

beforeAll(async () => {
  pipeline = await startIngestPipeline();
  sim = pipeline.stack.simulator as RingCxSimulator;
});
afterAll(() => pipeline?.stop());
beforeEach(() => sim.reset());

const SCIENTIFIC = 'dnis "1.21256E+10" looks like a number Excel converted to scientific notation, which loses digits; format the column as text and enter the numbers again';

describe('failed.csv', () => {
  it('carries each reason in a trailing error column, and goes back in as it is once the rows are fixed', async () => {
    const first = await runFile(
      pipeline,
      'incoming/round-trip.csv',
      [
        'dnis,description,target_type,target_id',
        '1.21256E+10,=SUM(1+1),queue,4501',
        '12125550141,"Two',
        'lines",queue,4501',
        '12125550142,Fine,queue,4501',
        '12125550144,Zero\u200Bwidth',
      ].join('\n'),
    );
    expect(first.rows.get(2)).toMatchObject({ outcome: 'rejected', detail: SCIENTIFIC });
    expect(first.rows.get(3)).toMatchObject({ outcome: 'rejected', detail: expect.stringMatching(/^description contains a line break \(U\+000A at character 4\)/) });
    expect(first.rows.get(5)).toMatchObject({ outcome: 'created' });
    expect(first.rows.get(6)).toMatchObject({ outcome: 'rejected', detail: expect.stringMatching(/^description contains a zero-width character \(U\+200B/) });

    const failed = parseCsv(first.failed);
    expect(failed).toEqual([
      ['dnis', 'description', 'target_type', 'target_id', 'error'],
      ['1.21256E+10', "'=SUM(1+1)", 'queue', '4501', SCIENTIFIC],
      ['12125550141', 'Two\nlines', 'queue', '4501', first.rows.get(3)?.detail],
      // A short row is padded, so its reason still sits under "error".
      ['12125550144', 'Zero\u200Bwidth', '', '', first.rows.get(6)?.detail],
    ]);

    // The operator fixes the cells and uploads the file with its error column and ' prefixes.
    const fixed = failed.map((row, index) => {
      if (index === 1) return ['12125550143', ...row.slice(1)];
      if (index === 2) return [row[0] as string, 'One line', ...row.slice(2)];
      if (index === 3) return [row[0] as string, 'Zero width', ...row.slice(2)];
      return row;
    });
    const second = await runFile(pipeline, 'incoming/round-trip-fixed.csv', fixed.map((row) => csvLine(row)).join(''));
    expect(second.summary.outcomes).toEqual({ created: 3 });
    expect(second.summary.ignoredColumns).toEqual([]);
    expect(sim.state.pool.get('12125550143')?.dnisDescription).toBe('=SUM(1+1)');
    expect(sim.state.pool.get('12125550141')?.dnisDescription).toBe('One line');
    expect(sim.state.assignments.get('12125550141')).toMatchObject({ type: 'gate', id: 4501 });
    expect(sim.state.pool.get('12125550144')?.dnisDescription).toBe('Zero width');
    expect(parseCsv(second.failed)).toEqual([['dnis', 'description', 'target_type', 'target_id', 'error']]);
  });
});

describe('header typos', () => {
  it('suggest the column meant, in summary.json and the completion event', async () => {
    const run = await runFile(pipeline, 'plan/typo.csv', 'dnis,description,target typ,target_id\n12125550150,Typo,queue,4501\n');
    const warning = 'column "target typ" is not a known column and was ignored; did you mean target_type?';
    expect(run.summary.ignoredColumns).toEqual(['target typ']);
    expect(run.summary.warnings).toEqual([warning]);
    expect(run.rows.get(2)).toMatchObject({ outcome: 'rejected', detail: 'target_id is given without target_type' });
    const completed = pipeline.stack.json.events.filter((e) => e.detailType === 'DNIS Import Completed').at(-1);
    expect(completed?.detail).toMatchObject({ jobId: run.jobId, warnings: [warning] });
  });

  it('list an unrelated extra column without a guess', async () => {
    const run = await runFile(pipeline, 'plan/extra.csv', 'dnis,cost center\n12125550151,CC-7\n');
    expect(run.summary.warnings).toEqual(['column "cost center" is not a known column and was ignored']);
  });
});
