import { GetSecretValueCommand, PutSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { lambdaContext } from '../../../local/wiring/lambdaEvents';
import { loadConfig } from '../../../shared/config';
import { createDependencies } from '../../../shared/dependencies';
import { outcomeTenant, startIngestPipeline } from '../../helpers/ingest';
import type { Pipeline } from '../../helpers/pipeline';
import { DEMO_JWT_CREDENTIALS } from '../../helpers/ringcx';

const SECRET_ID = 'dnis-sync/ringcx';
/** The operator's rotation: same app, new client secret (the simulator knows both). */
const ROTATED = { ...DEMO_JWT_CREDENTIALS, clientSecret: 'rotated-client-secret' };

let pipeline: Pipeline;
let sim: RingCxSimulator;
let secrets: SecretsManagerClient;

beforeAll(async () => {
  const seed = outcomeTenant();
  seed.apps.push({ ...ROTATED, principal: seed.apps[0]?.principal ?? 'demo-admin' });
  pipeline = await startIngestPipeline({ simulator: { seed }, env: { RINGCX_SELF_LOGIN: 'false' } });
  sim = pipeline.stack.simulator as RingCxSimulator;
  secrets = createDependencies(loadConfig(pipeline.stack.env)).aws.secrets;
});
afterAll(() => pipeline?.stop());
beforeEach(() => {
  sim.reset();
  sim.setKnobs({ latencyMs: 0 });
});

type Result = { status: string; attempts?: number };
const refresh = () => pipeline.refresher({}, lambdaContext('token-refresher')) as Promise<Result>;
const read = async (stage = 'AWSCURRENT') => {
  const value = await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ID, VersionStage: stage }));
  return { versionId: value.VersionId, secret: JSON.parse(value.SecretString ?? '{}') as Record<string, string> };
};

/**
 * Runs the refresher with every RingCX auth call slowed down, and makes the operator's
 * put-secret-value (through the real Secrets Manager wire protocol) land after the refresher read
 * the secret and before it writes.
 */
async function refreshWithOperatorWrite(operatorValue: (current: Record<string, string>) => Record<string, string>) {
  const current = await read();
  sim.setKnobs({ latencyMs: 400 });
  const readsBefore = pipeline.stack.json.stats.getSecretValue;
  const run = refresh();
  await vi.waitFor(() => expect(pipeline.stack.json.stats.getSecretValue).toBeGreaterThan(readsBefore), { timeout: 10_000, interval: 5 });
  const put = await secrets.send(new PutSecretValueCommand({ SecretId: SECRET_ID, SecretString: JSON.stringify(operatorValue(current.secret)) }));
  const result = await run;
  sim.setKnobs({ latencyMs: 0 });
  return { result, operatorVersion: put.VersionId as string, before: current };
}

describe('token refresher and an operator writing the secret', () => {
  it('keeps an operator rotation made during a refresh: the new client secret stays in AWSCURRENT', async () => {
    pipeline.stack.json.setSecret(SECRET_ID, JSON.stringify(DEMO_JWT_CREDENTIALS));
    expect(await refresh()).toMatchObject({ status: 'logged-in' });
    const exchangesBefore = sim.auth.stats.exchanges;

    // The operator edits the JSON they read (token fields and all) and changes the client secret.
    const { result, operatorVersion, before } = await refreshWithOperatorWrite((current) => ({ ...current, clientSecret: ROTATED.clientSecret }));

    const after = await read();
    expect(after.secret.clientSecret).toBe(ROTATED.clientSecret);
    expect(after.secret).toMatchObject(ROTATED);
    // A session from the operator's credentials, not the one the old credentials produced.
    expect(after.secret.accessToken).toEqual(expect.any(String));
    expect(after.secret.accessToken).not.toBe(before.secret.accessToken);
    expect(sim.auth.stats.exchanges).toBe(exchangesBefore + 1);
    // The refresh token the first attempt spent was not sent again.
    expect(sim.auth.stats.revokedRefreshUses).toBe(0);
    expect(result).toEqual({ status: 'logged-in', expiresAt: after.secret.expiresAt, attempts: 2 });
    // The operator's version was superseded by a value built on it, never by the old credentials.
    expect((await read('AWSPREVIOUS')).versionId).toBe(operatorVersion);

    // And the token works for a worker that reads the secret.
    const worker = createDependencies(loadConfig({ ...pipeline.stack.env, RINGCX_SELF_LOGIN: 'false' }));
    await expect(worker.ringcx.searchDnis({ searchText: '1212555012' })).resolves.toBeDefined();
  });

  it('merges the renewed session onto an operator write that kept the credentials, without another login', async () => {
    pipeline.stack.json.setSecret(SECRET_ID, JSON.stringify(DEMO_JWT_CREDENTIALS));
    expect(await refresh()).toMatchObject({ status: 'logged-in' });
    const exchangesBefore = sim.auth.stats.exchanges;

    const { result, before } = await refreshWithOperatorWrite((current) => ({ ...current, owner: 'contact-centre-ops' }));

    const after = await read();
    expect(after.secret).toMatchObject({ ...DEMO_JWT_CREDENTIALS, owner: 'contact-centre-ops', refreshToken: expect.stringMatching(/^rt-/) });
    expect(after.secret.refreshToken).not.toBe(before.secret.refreshToken);
    expect(result).toMatchObject({ status: 'refreshed', attempts: 2 });
    expect(sim.auth.stats.exchanges).toBe(exchangesBefore);
    expect(sim.auth.stats.refreshes).toBe(1);
  });

  it('renews in one attempt when nobody writes in between', async () => {
    pipeline.stack.json.setSecret(SECRET_ID, JSON.stringify(DEMO_JWT_CREDENTIALS));
    await refresh();
    const before = await read();
    expect(await refresh()).toMatchObject({ status: 'refreshed', attempts: 1 });
    expect((await read('AWSPREVIOUS')).versionId).toBe(before.versionId);
  });
});

describe('token refresher before credentials are entered', () => {
  it('logs one clear line, counts CredentialsMissing and returns normally, for the placeholder and for incomplete JSON', async () => {
    const { metrics } = await import('../../../shared/observability/powertools');
    const added = vi.spyOn(metrics, 'addMetric');
    const lines: string[] = [];
    // Powertools writes WARN and ERROR lines to stderr, the rest to stdout.
    const spies = [process.stdout, process.stderr].map((stream) => {
      const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
      return vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
        lines.push(String(chunk));
        return write(chunk, ...rest);
      });
    });
    try {
      for (const placeholder of ['{"awaitingCredentials":true}', JSON.stringify({ clientId: 'only-the-id' })]) {
        pipeline.stack.json.setSecret(SECRET_ID, placeholder);
        const putsBefore = pipeline.stack.json.stats.putSecretValue;
        lines.length = 0;
        added.mockClear();
        await expect(refresh()).resolves.toEqual({ status: 'awaiting-credentials' });
        const warnings = lines.filter((line) => line.includes('"level":"WARN"'));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain(`RingCX credentials not entered yet: secret ${SECRET_ID} holds no apiToken and no clientId + clientSecret + jwt`);
        expect(lines.filter((line) => line.includes('"level":"ERROR"'))).toEqual([]);
        expect(added.mock.calls).toEqual([['CredentialsMissing', 'Count', 1]]);
        expect(pipeline.stack.json.stats.putSecretValue).toBe(putsBefore);
        expect(pipeline.stack.json.currentSecretValue(SECRET_ID)).toBe(placeholder);
      }
      expect(sim.auth.stats.rcLogins).toBe(0);
    } finally {
      for (const spy of spies) spy.mockRestore();
      added.mockRestore();
    }
  });

  it('still fails loudly on a secret that is not JSON at all', async () => {
    pipeline.stack.json.setSecret(SECRET_ID, 'x7Hq-random-placeholder');
    await expect(refresh()).rejects.toThrow(/not valid JSON/);
  });
});
