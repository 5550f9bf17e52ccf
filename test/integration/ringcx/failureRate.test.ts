import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RingCxSimulator, startRingCxSimulator } from '../../../local/ringcx-simulator/server';
import { testClient } from '../../helpers/ringcx';

let sim: RingCxSimulator;
beforeAll(async () => {
  sim = await startRingCxSimulator({});
});
afterAll(() => sim.close());

/** What the sync engine reads to decide how many assignment attempts a move must leave time for. */
describe("the transport's recent failure rate", () => {
  it('rises with failed attempts, ignores 429s, and falls as RingCX answers again', async () => {
    const { client } = testClient(sim, { retry: { maxAttempts: 3 } });
    const transport = client.transport;
    expect(transport.maxAttempts).toBe(3);
    expect(transport.recentFailureRate).toBe(0);

    sim.setKnobs({ faults: { forced429: 2 } });
    await client.searchDnis({ searchText: '12125550100' });
    expect(transport.recentFailureRate).toBe(0);

    sim.setKnobs({ faults: { errorRate: 1 } });
    await expect(client.searchDnis({ searchText: '12125550100' })).rejects.toThrow();
    const failing = transport.recentFailureRate;
    // Three failed attempts out of three: 1 - 0.9³.
    expect(failing).toBeCloseTo(0.271, 2);

    sim.setKnobs({ faults: { errorRate: 0 } });
    for (let i = 0; i < 10; i++) await client.searchDnis({ searchText: '12125550100' });
    expect(transport.recentFailureRate).toBeLessThan(failing / 2);
    expect(transport.recentFailureRate).toBeGreaterThan(0);
  });
});

describe('a 429 with a long Retry-After', () => {
  it('pauses the whole budget for it, even though this call gives up instead of waiting', async () => {
    sim.reset();
    // One request per two minutes: the second is refused with a Retry-After of about 120 s.
    sim.setKnobs({ faults: { errorRate: 0 }, rateLimit: { budget: 1, windowMs: 120_000, retryAfter: true } });
    const pauses: number[] = [];
    const budget = { acquire: async () => {}, reserve: async () => {}, pause: (ms: number) => pauses.push(ms), estimateWaitMs: () => 0, msPerRequest: 0 };
    const { client } = testClient(sim, { limiter: budget });
    await client.searchDnis({ searchText: '12125550100' });
    await expect(client.searchDnis({ searchText: '12125550100' })).rejects.toMatchObject({ status: 429 });
    expect(pauses.length).toBe(1);
    expect(pauses[0]).toBeGreaterThan(60_000);
  });
});
