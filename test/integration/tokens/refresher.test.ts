import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { loadConfig } from '../../../shared/config';
import { createDependencies } from '../../../shared/dependencies';
import { startIngestPipeline } from '../../helpers/ingest';
import { DEMO_JWT_CREDENTIALS } from '../../helpers/ringcx';
import type { Pipeline } from '../../helpers/pipeline';

/** One simulated minute per second: 5-minute tokens live 5 s, the refresher runs every 4 s. */
const MINUTE = 1_000;
let pipeline: Pipeline;
let sim: RingCxSimulator;

beforeAll(async () => {
  pipeline = await startIngestPipeline({
    simulator: { knobs: { tokenLifetimeMs: 5 * MINUTE } },
    env: { RINGCX_SELF_LOGIN: 'false' },
  });
  sim = pipeline.stack.simulator as RingCxSimulator;
  pipeline.stack.json.setSecret('dnis-sync/ringcx', JSON.stringify(DEMO_JWT_CREDENTIALS));
});
afterAll(() => pipeline?.stop());

it('keeps a 20-minute run going on 5-minute tokens with zero failed calls and one exchange', async () => {
  const refresh = () => pipeline.refresher({}, lambdaContext('token-refresher')) as Promise<{ status: string }>;
  // A worker's view: reads the token from the secret, never logs in itself.
  const worker = createDependencies(loadConfig({ ...pipeline.stack.env, RINGCX_SELF_LOGIN: 'false' }));
  const results: string[] = [];
  const statuses: string[] = [(await refresh()).status];

  const end = Date.now() + 20 * MINUTE;
  const caller = (async () => {
    while (Date.now() < end) {
      try {
        await worker.ringcx.searchDnis({ searchText: '1212555010' });
        results.push('ok');
      } catch (error) {
        results.push(String(error));
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const scheduler = (async () => {
    let round = 0;
    while (Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 4 * MINUTE));
      round += 1;
      // Once, two runs at the same moment: the lease lets only one spend the refresh token.
      const runs = round === 2 ? await Promise.all([refresh(), refresh()]) : [await refresh()];
      statuses.push(...runs.map((r) => r.status));
    }
  })();
  await Promise.all([caller, scheduler]);

  expect(results.filter((r) => r !== 'ok')).toEqual([]);
  expect(results.length).toBeGreaterThan(100);
  expect(statuses[0]).toBe('logged-in');
  expect(statuses.filter((s) => s === 'busy')).toHaveLength(1);
  expect(statuses.filter((s) => s === 'refreshed').length).toBeGreaterThanOrEqual(4);
  // One exchange for the first login; every later renewal used the refresh token.
  expect(sim.auth.stats.exchanges).toBe(1);
  expect(sim.auth.stats.revokedRefreshUses).toBe(0);
  const stored = await worker.aws.secrets.send(new GetSecretValueCommand({ SecretId: 'dnis-sync/ringcx' }));
  const secret = JSON.parse(stored.SecretString ?? '{}');
  expect(secret).toMatchObject({ ...DEMO_JWT_CREDENTIALS, accessToken: expect.any(String), refreshToken: expect.stringMatching(/^rt-/) });
  expect(Date.parse(secret.expiresAt)).toBeGreaterThan(Date.now() - 5 * MINUTE);
});
