import { describe, expect, it } from 'vitest';
import { awaitingCredentials } from '../../../../shared/ringcx/auth/credentials';

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
