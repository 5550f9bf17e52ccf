import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loginWithJwt, refreshSession } from '../../../shared/ringcx/auth/exchange';
import { SecretTokenProvider } from '../../../shared/ringcx/auth/tokenProvider';
import { RingCxAuthError } from '../../../shared/ringcx/errors';
import { type RingCxSimulator, startRingCxSimulator } from '../../../local/ringcx-simulator/server';
import { DEMO_JWT_CREDENTIALS, testClient } from '../../helpers/ringcx';

let sim: RingCxSimulator;
beforeAll(async () => {
  sim = await startRingCxSimulator();
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.reset();
  sim.setKnobs({ tokenLifetimeMs: 5 * 60_000, exchangeLimit: { budget: 5, windowMs: 60_000 } });
});

const endpoints = () => ({ ringCentralBaseUrl: sim.url, ringCxBaseUrl: sim.url });

describe('JWT login and refresh', () => {
  it('exchanges JWT credentials for a RingCX session with a refresh token and a 5-minute expiry', async () => {
    const before = Date.now();
    const session = await loginWithJwt(DEMO_JWT_CREDENTIALS, endpoints());
    expect(session.refreshToken).toMatch(/^rt-/);
    expect(session.expiresAt - before).toBeGreaterThan(4.9 * 60_000);
    expect(session.expiresAt - before).toBeLessThanOrEqual(5 * 60_000 + 1_000);
    expect(sim.log.map((e) => e.route)).toEqual(['auth.rcToken', 'auth.exchange']);
  });

  it('rotates the refresh token; the spent one is refused', async () => {
    const session = await loginWithJwt(DEMO_JWT_CREDENTIALS, endpoints());
    const next = await refreshSession(session.refreshToken!, endpoints());
    expect(next.accessToken).not.toBe(session.accessToken);
    expect(next.refreshToken).not.toBe(session.refreshToken);
    await expect(refreshSession(session.refreshToken!, endpoints())).rejects.toBeInstanceOf(RingCxAuthError);
  });

  it('refuses wrong credentials without echoing them', async () => {
    const error = await loginWithJwt({ ...DEMO_JWT_CREDENTIALS, jwt: 'not-the-jwt' }, endpoints()).catch((e: Error) => e);
    expect(error).toBeInstanceOf(RingCxAuthError);
    expect(String(error)).not.toContain('not-the-jwt');
    expect(String(error)).not.toContain(DEMO_JWT_CREDENTIALS.clientSecret);
  });

  it('the simulator enforces 5 exchanges a minute', async () => {
    for (let i = 0; i < 5; i++) await loginWithJwt(DEMO_JWT_CREDENTIALS, endpoints());
    const error = await loginWithJwt(DEMO_JWT_CREDENTIALS, endpoints()).catch((e: { status?: number }) => e);
    expect(error).toMatchObject({ status: 429 });
  });
});

describe('SecretTokenProvider', () => {
  it('sends a permanent API token as X-Auth-Token and caches the secret read', async () => {
    let reads = 0;
    const provider = new SecretTokenProvider({ readSecret: async () => (reads++, JSON.stringify({ apiToken: 'demo-api-token' })) });
    const { client } = testClient(sim, { tokenProvider: provider });
    await client.searchDnis({});
    await client.searchDnis({});
    expect(reads).toBe(1);
    expect(await provider.getAuthHeader()).toEqual({ name: 'x-auth-token', value: 'demo-api-token' });
  });

  it('uses a bearer token from the secret until shortly before it expires, then re-reads', async () => {
    let now = 1_000_000;
    let reads = 0;
    const provider = new SecretTokenProvider({
      readSecret: async () => (reads++, JSON.stringify({ accessToken: `tok-${reads}`, expiresAt: new Date(now + 120_000).toISOString() })),
      maxCacheMs: 60_000,
      expirySkewMs: 30_000,
      now: () => now,
    });
    expect((await provider.getAuthHeader()).value).toBe('Bearer tok-1');
    now += 59_000;
    expect((await provider.getAuthHeader()).value).toBe('Bearer tok-1');
    now += 2_000;
    expect((await provider.getAuthHeader()).value).toBe('Bearer tok-2');
    expect(reads).toBe(2);
  });

  it('keeps a token it holds through a secret outage until the token itself expires or is refused', async () => {
    let now = Date.parse('2026-11-30T08:00:00Z');
    let secret = JSON.stringify({ accessToken: 'tok-held', expiresAt: new Date(now + 120_000).toISOString() });
    const provider = new SecretTokenProvider({ readSecret: async () => secret, maxCacheMs: 60_000, expirySkewMs: 30_000, now: () => now, selfLogin: false });
    expect((await provider.getAuthHeader()).value).toBe('Bearer tok-held');
    // The secret now holds a dead token and nothing to log in with.
    secret = JSON.stringify({ accessToken: 'revoked', expiresAt: '2001-01-01T00:00:00Z' });
    now += 61_000;
    expect((await provider.getAuthHeader()).value).toBe('Bearer tok-held');
    // Past the held token's own life (less the skew), the outage shows.
    now += 30_000;
    await expect(provider.getAuthHeader()).rejects.toBeInstanceOf(RingCxAuthError);
  });

  it('does not fall back to a held token RingCX refused', async () => {
    const now = Date.parse('2026-11-30T08:00:00Z');
    let secret = JSON.stringify({ accessToken: 'tok-held', expiresAt: new Date(now + 120_000).toISOString() });
    const provider = new SecretTokenProvider({ readSecret: async () => secret, now: () => now, selfLogin: false });
    const held = await provider.getAuthHeader();
    secret = JSON.stringify({ accessToken: 'revoked', expiresAt: '2001-01-01T00:00:00Z' });
    provider.invalidate(held);
    await expect(provider.getAuthHeader()).rejects.toBeInstanceOf(RingCxAuthError);
  });

  it('logs in with JWT credentials once and shares the session across concurrent callers', async () => {
    const provider = new SecretTokenProvider({ readSecret: async () => JSON.stringify(DEMO_JWT_CREDENTIALS), endpoints: endpoints() });
    const { client } = testClient(sim, { tokenProvider: provider });
    await Promise.all(Array.from({ length: 10 }, () => client.searchDnis({})));
    expect(provider.stats.logins).toBe(1);
    expect(sim.auth.stats.exchanges).toBe(1);
  });

  it('recovers from an expired session by refreshing once, with no failed call', async () => {
    sim.setKnobs({ tokenLifetimeMs: 60_000 });
    const provider = new SecretTokenProvider({ readSecret: async () => JSON.stringify(DEMO_JWT_CREDENTIALS), endpoints: endpoints() });
    const { client, calls } = testClient(sim, { tokenProvider: provider });
    await client.searchDnis({});
    sim.auth.expireAllSessions();
    await client.searchDnis({});
    expect(calls.map((c) => c.outcome)).toEqual([200, 401, 200]);
    expect(provider.stats).toMatchObject({ logins: 1, refreshes: 1 });
  });

  it('refuses to log in where the refresher owns logins, and says what to check', async () => {
    const provider = new SecretTokenProvider({
      readSecret: async () => JSON.stringify({ ...DEMO_JWT_CREDENTIALS, accessToken: 'old', expiresAt: 0 }),
      endpoints: endpoints(),
      selfLogin: false,
    });
    await expect(provider.getAuthHeader()).rejects.toThrow(/token refresher/);
  });

  it.each([
    ['not json', /not valid JSON/],
    [JSON.stringify({}), /must hold apiToken/],
    [JSON.stringify({ clientId: 'a', jwt: 'b' }), /all three/],
    [JSON.stringify({ accessToken: 'x', expiresAt: 'soon' }), /expiresAt/],
  ])('rejects an unusable secret %#', async (raw, message) => {
    const provider = new SecretTokenProvider({ readSecret: async () => raw });
    const error = await provider.getAuthHeader().catch((e: Error) => e);
    expect(String(error)).toMatch(message);
  });
});
