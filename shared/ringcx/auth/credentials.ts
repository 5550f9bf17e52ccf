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
