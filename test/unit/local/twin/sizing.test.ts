import { describe, expect, it } from 'vitest';
import { deployedSizing, stageConfig } from '../../../../infra/config';
import { twinSizing } from '../../../../local/twin/sizing';

describe('twinSizing', () => {
  it('copies the stage and divides every duration by the time scale', () => {
    const prod = twinSizing('prod', 10);
    const deployed = deployedSizing(stageConfig('prod'));
    expect(prod.timeoutMs.worker).toBe(12_000);
    // 200 ms budget slices at ×10 need 6.25% headroom (shared/ringcx/budgetSlices.ts).
    expect(prod.ringcx).toMatchObject({ windowMs: 6_000, tenantRequestsPerWindow: 120, headroom: 0.0625, budgetSliceMs: 200, budgetClockSkewMs: 0 });
    for (const queue of ['work', 'bulk'] as const) {
      expect(prod.queues[queue]).toEqual({
        batchSize: deployed.queues[queue].batchSize,
        batchWindowMs: deployed.queues[queue].batchWindowSeconds * 100,
        maxConcurrency: deployed.queues[queue].maxConcurrency,
        visibilityTimeoutMs: deployed.worker.visibilityTimeoutSeconds * 100,
        maxPayloadBytes: 6 * 1024 * 1024,
      });
    }
    expect(prod.queues.bulk.batchSize).toBeGreaterThan(prod.queues.work.batchSize);
    expect(prod.queues.priority.maxConcurrency).toBe(deployed.queues.priority.maxConcurrency);
    expect(prod.maxReceiveCount).toBe(deployed.maxReceiveCount);
    expect(prod.refreshEveryMs).toBe(deployed.refresher.everyMinutes * 6_000);
    expect(prod.sweepEveryMs).toBe(deployed.sweeper.everyMinutes * 6_000);
    expect(prod.timeoutMs.sweeper).toBe(deployed.sweeper.timeoutSeconds * 100);
    expect(prod.ringcx.tokenLifetimeMs).toBe(30_000);
    expect(prod.ringcx.retryBaseMs).toBe(25);
  });

  it('is the deployed sizing at scale 1 and refuses a scale that is not positive', () => {
    const dev = twinSizing();
    expect(dev.timeoutMs.worker).toBe(deployedSizing(stageConfig('dev')).worker.timeoutSeconds * 1000);
    expect(dev.ringcx.windowMs).toBe(60_000);
    expect(() => twinSizing('dev', 0)).toThrow(/positive/);
    expect(() => twinSizing('dev', Number.NaN)).toThrow(/positive/);
  });
});
