import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RingCxSimulator, startRingCxSimulator } from '../../../local/ringcx-simulator/server';
import { limiterFor, testClient } from '../../helpers/ringcx';

let sim: RingCxSimulator;
beforeAll(async () => {
  // RingCX's 120/min, time-scaled ×12 so the test takes seconds. Not further: the limiter's 2%
  // safety margin must stay above the jitter of a loaded 2-core machine (100 ms here, 1.2 s in production).
  sim = await startRingCxSimulator({ knobs: { rateLimit: { budget: 600, windowMs: 5_000 } } });
});
afterAll(() => sim.close());

describe('client-side rate limiter against the simulator budget', () => {
  it('keeps a burst of 500 calls under the budget with zero 429s', async () => {
    const { client, calls } = testClient(sim, { limiter: limiterFor(600, 5_000) });
    await Promise.all(Array.from({ length: 500 }, () => client.searchDnis({ searchText: '12125550100' })));
    const statuses = sim.apiCalls('searchDnis').map((e) => e.status);
    expect(statuses).toHaveLength(500);
    expect(statuses.filter((s) => s === 429)).toHaveLength(0);
    expect(calls.every((c) => c.outcome === 200)).toBe(true);
  });

  it('without the limiter the same burst is throttled (the test can fail)', async () => {
    sim.reset();
    // A window far longer than the burst can take on a loaded machine, so the budget cannot refill
    // mid-burst, and a burst small enough that no call times out: unpaced, the calls over the
    // budget must meet 429s.
    sim.setKnobs({ rateLimit: { budget: 100, windowMs: 120_000 } });
    const { client } = testClient(sim, { retry: { maxAttempts: 1 } });
    const results = await Promise.allSettled(Array.from({ length: 150 }, () => client.searchDnis({ searchText: '12125550100' })));
    expect(results.filter((r) => r.status === 'rejected').length).toBeGreaterThan(0);
    expect(sim.apiCalls('searchDnis').filter((e) => e.status === 429).length).toBeGreaterThan(0);
  });
});
