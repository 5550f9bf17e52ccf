import { describe, expect, it } from 'vitest';
import { awaitingCredentials, parseRingCxSecret, tenantKeyOf } from '../../../../shared/ringcx/auth/credentials';

describe('awaitingCredentials', () => {
  it.each([
    ['the stack placeholder', '{"awaitingCredentials":true}', []],
    ['an empty object', '{}', []],
    ['JWT credentials missing the jwt', '{"clientId":"a","clientSecret":"b"}', ['clientId', 'clientSecret']],
    ['empty strings', '{"apiToken":"","clientId":"","clientSecret":"","jwt":""}', []],
    ['a JSON array', '[]', []],
    ['a JSON string', '"pending"', []],
  ])('recognises %s as awaiting credentials', (_name, raw, fieldsPresent) => {
    expect(awaitingCredentials(raw)).toEqual({ fieldsPresent });
  });

  it.each([
    ['an API token', '{"apiToken":"t"}'],
    ['a bearer token', '{"accessToken":"t","expiresAt":"2030-01-01T00:00:00Z"}'],
    ['JWT credentials', '{"clientId":"a","clientSecret":"b","jwt":"c"}'],
    ['a value that is not JSON (a real misconfiguration, not a placeholder)', 'x7Hq-random'],
  ])('does not for %s', (_name, raw) => {
    expect(awaitingCredentials(raw)).toBeUndefined();
  });
});

describe('tenantKeyOf: which shared RingCX budget a secret takes from', () => {
  const host = 'https://ringcx.ringcentral.com';
  const jwt = (extra: Record<string, unknown> = {}) => parseRingCxSecret(JSON.stringify({ clientId: 'app-1', clientSecret: 's', jwt: 'j', ...extra }));

  it('is the same for two secrets with the same credentials, whatever session each holds', () => {
    const dev = tenantKeyOf(jwt({ accessToken: 'a', expiresAt: '2030-01-01T00:00:00Z' }), host);
    const prod = tenantKeyOf(jwt({ accessToken: 'b', expiresAt: '2031-01-01T00:00:00Z' }), `${host}/`);
    expect(dev).toBe(prod);
    expect(dev).toMatch(/^[0-9a-f]{32}$/);
  });

  it('differs by credential and by RingCX host, and never contains the credential', () => {
    const key = tenantKeyOf(parseRingCxSecret(JSON.stringify({ apiToken: 'tok-123' })), host);
    expect(key).not.toBe(tenantKeyOf(parseRingCxSecret(JSON.stringify({ apiToken: 'tok-456' })), host));
    expect(key).not.toBe(tenantKeyOf(parseRingCxSecret(JSON.stringify({ apiToken: 'tok-123' })), 'https://ringcx-eu.ringcentral.com'));
    expect(key).not.toContain('tok-123');
  });

  it('names no tenant for a secret holding only a session token, which changes every few minutes', () => {
    expect(tenantKeyOf(parseRingCxSecret(JSON.stringify({ accessToken: 'a', expiresAt: '2030-01-01T00:00:00Z' })), host)).toBeUndefined();
  });
});
