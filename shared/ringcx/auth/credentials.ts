import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The JSON in the RingCX Secrets Manager secret. Three forms are accepted:
 * - `{ apiToken }`: a permanent RingCX API token, sent as `X-Auth-Token`;
 * - `{ accessToken, expiresAt }`: a bearer token that something else keeps fresh;
 * - `{ clientId, clientSecret, jwt }`: RingCentral JWT credentials. The token refresher writes
 *   `{ accessToken, refreshToken, expiresAt }` next to them, so this form usually carries both.
 */
export const RingCxSecretSchema = z
  .looseObject({
    apiToken: z.string().min(1).optional(),
    accessToken: z.string().min(1).optional(),
    refreshToken: z.string().min(1).optional(),
    expiresAt: z.union([z.string(), z.number()]).optional(),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    jwt: z.string().min(1).optional(),
  })
  .superRefine((secret, ctx) => {
    const jwtFields = [secret.clientId, secret.clientSecret, secret.jwt].filter(Boolean).length;
    if (jwtFields > 0 && jwtFields < 3) {
      ctx.addIssue({ code: 'custom', message: 'JWT credentials need all three of clientId, clientSecret and jwt' });
    }
    if (!secret.apiToken && !secret.accessToken && jwtFields === 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'the secret must hold apiToken, accessToken (+ expiresAt), or clientId + clientSecret + jwt',
      });
    }
    if (secret.accessToken && secret.expiresAt !== undefined && parseExpiresAt(secret.expiresAt) === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expiresAt must be an ISO-8601 date or epoch milliseconds' });
    }
  });
export type RingCxSecret = z.infer<typeof RingCxSecretSchema>;

export interface JwtCredentials {
  clientId: string;
  clientSecret: string;
  jwt: string;
}

export function jwtCredentialsOf(secret: RingCxSecret): JwtCredentials | undefined {
  if (secret.clientId && secret.clientSecret && secret.jwt) {
    return { clientId: secret.clientId, clientSecret: secret.clientSecret, jwt: secret.jwt };
  }
  return undefined;
}

export function parseExpiresAt(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Parses the secret string; the error names the problem but never echoes the value. */
export function parseRingCxSecret(raw: string): RingCxSecret {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error('the RingCX secret is not valid JSON');
  }
  const result = RingCxSecretSchema.safeParse(json);
  if (!result.success) {
    throw new Error(`the RingCX secret is not usable: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  return result.data;
}

/** The forms the secret may hold credentials in; the names are safe to log, the values never. */
const CREDENTIAL_FIELDS = ['apiToken', 'accessToken', 'clientId', 'clientSecret', 'jwt'] as const;

/**
 * The stack creates the secret as `{"awaitingCredentials":true}`; until an operator enters
 * credentials it is valid JSON with no credential form in it (no apiToken, no accessToken, not all
 * three of clientId, clientSecret and jwt). That state is expected after a deploy, not an error.
 * Returns the credential field names present (possibly none), or undefined when the secret holds
 * a usable form or is not JSON at all (a real misconfiguration, reported as such by parseRingCxSecret).
 */
export function awaitingCredentials(raw: string): { fieldsPresent: string[] } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const record = json !== null && typeof json === 'object' && !Array.isArray(json) ? (json as Record<string, unknown>) : {};
  const present = CREDENTIAL_FIELDS.filter((field) => typeof record[field] === 'string' && (record[field] as string).length > 0);
  const has = (field: (typeof CREDENTIAL_FIELDS)[number]) => present.includes(field);
  const usable = has('apiToken') || has('accessToken') || (has('clientId') && has('clientSecret') && has('jwt'));
  return usable ? undefined : { fieldsPresent: present };
}

/**
 * Names the RingCX tenant a secret's credentials act for, without revealing them: a hash of the
 * RingCX host and the credential's stable part (the JWT app's client id, or the API token). Two
 * stacks whose secrets hold the same credentials get the same key, and so share one budget; a
 * rotated API token starts a new key (for at most the old one's few-minute counters).
 * Undefined when the secret holds only a session token, which changes every few minutes.
 */
export function tenantKeyOf(secret: RingCxSecret, ringCxBaseUrl: string): string | undefined {
  const identity = secret.clientId ? `jwt:${secret.clientId}` : secret.apiToken ? `token:${secret.apiToken}` : undefined;
  if (identity === undefined) return undefined;
  return createHash('sha256').update(`${new URL(ringCxBaseUrl).host}|${identity}`).digest('hex').slice(0, 32);
}
