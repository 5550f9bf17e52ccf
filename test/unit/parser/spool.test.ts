import { describe, expect, it } from 'vitest';
import { Spool } from '../../../shared/parser/spool';

describe('Spool', () => {
  it('gives back messages of both cost classes and rejections in the order they were written, each as its kind', async () => {
    const spool = new Spool();
    try {
      const rows = Array.from({ length: 5_000 }, (_, i) =>
        i % 3 === 0 ? { kind: 'rejection' as const, body: JSON.stringify({ line: i, detail: 'message: not a prefix' }) } : { kind: i % 3 === 1 ? ('cheap' as const) : ('costly' as const), body: JSON.stringify({ line: i, detail: 'cheap: costly: not prefixes' }) },
      );
      for (const row of rows) await spool.write(row);
      await spool.close();
      const read = [];
      for await (const row of spool.read()) read.push(row);
      expect(read).toEqual(rows);
    } finally {
      await spool.dispose();
    }
  });
});
