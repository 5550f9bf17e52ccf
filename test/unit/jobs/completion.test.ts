import { describe, expect, it } from 'vitest';
import type { Dependencies } from '../../../shared/dependencies';
import { completeIfDone } from '../../../shared/jobs/completion';

describe('job completion', () => {
  it('takes the report lease for REPORT_LEASE_SECONDS, so a writer that died is taken over when its invocation would have ended', async () => {
    const leases: number[] = [];
    // Another writer holds the lease: nothing is written, and the lease asked for is the configured one.
    const store = {
      tryStartReport: async (_jobId: string, leaseMs: number) => {
        leases.push(leaseMs);
        return undefined;
      },
    };
    const rt = { store, config: { REPORT_LEASE_SECONDS: 6 } } as unknown as Dependencies;
    expect(await completeIfDone(rt, 'job-1')).toBe(false);
    expect(leases).toEqual([6_000]);
  });
});
