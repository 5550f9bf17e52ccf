import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RingCxSimulator, startRingCxSimulator } from '../../../local/ringcx-simulator/server';
import { testClient } from '../../helpers/ringcx';

/**
 * The simulator holds a 250,000-number tenant for the export's scale run: seeded in one admin
 * request, paged through in number order without re-sorting the pool per page.
 */
const COUNT = 250_000;
let sim: RingCxSimulator;

beforeAll(async () => {
  sim = await startRingCxSimulator({ knobs: { rateLimit: { budget: 100_000, windowMs: 1_000 } } });
});
afterAll(() => sim.close());

it('seeds 250,000 numbers in one request and pages through all of them, each once, in order', { timeout: 120_000 }, async () => {
  const seeded = performance.now();
  const response = await fetch(`${sim.url}/_sim/pool/bulk`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: COUNT }) });
  expect(await response.json()).toEqual({ added: COUNT, pool: COUNT + 4 });
  const seedMs = performance.now() - seeded;

  const { client } = testClient(sim);
  const accountIds = ['99990001', '99990002'];
  const visible = COUNT + 3;
  const order = sim.state.sortedRecords();
  const paged = performance.now();
  const seen: string[] = [];
  for (let page = 0; ; page++) {
    const result = await client.searchPools({ accountIds }, { page, maxRows: 1000 });
    expect(result.total).toBe(visible);
    seen.push(...result.records.map((r) => r.dnis as string));
    if (result.records.length < 1000) break;
  }
  const pageMs = (performance.now() - paged) / Math.ceil(visible / 1000);
  expect(seen).toHaveLength(visible);
  expect(new Set(seen).size).toBe(visible);
  expect(seen).toEqual([...seen].sort());
  expect(seen).toContain('16462249999');
  // The pool was sorted once for all 251 pages, not once per page (a page is one pass over it;
  // the bound is loose, for a shared machine: about 30 ms is typical).
  expect(sim.state.sortedRecords()).toBe(order);
  expect(pageMs).toBeLessThan(1_000);

  // A number deleted between pages is gone from the next page: the order follows the pool's keys.
  sim.state.pool.delete('16462000000');
  const first = await client.searchPools({ accountIds }, { page: 0, maxRows: 5 });
  expect(first.total).toBe(visible - 1);
  expect(first.records.map((r) => r.dnis)).not.toContain('16462000000');
  expect(sim.state.sortedRecords()).not.toBe(order);
  console.log(`simulator: seeded ${COUNT} in ${seedMs.toFixed(0)} ms; ${pageMs.toFixed(1)} ms per page of 1,000`);
});
