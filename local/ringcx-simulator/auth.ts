import { randomBytes, randomUUID } from 'node:crypto';
import type { TenantSeed } from './fixtures';
import type { Principal } from './state';

export interface Session {
  principal: string;
  expiresAt: number;
}

/** Sliding-window counter: at most `budget` events in any `windowMs`. */
export class SlidingWindow {
  private readonly hits = new Map<string, number[]>();

  /** Records a hit and returns 0, or returns the ms until a slot frees without recording. */
  take(key: string, budget: number, windowMs: number, now: number): number {
    const list = this.hits.get(key) ?? [];
    while (list.length > 0 && (list[0] as number) <= now - windowMs) list.shift();
    if (list.length >= budget) {
      this.hits.set(key, list);
      return (list[0] as number) + windowMs - now;
    }
    list.push(now);
    this.hits.set(key, list);
    return 0;
  }

  clear(): void {
    this.hits.clear();
  }
}

/**
 * Who may call: RingCentral apps (JWT grant), RingCentral access tokens, RingCX sessions with
 * rotating refresh tokens, and permanent API tokens. Tokens are opaque to the rest of the simulator,
 * and neither they nor credentials are ever written to its request log.
 */
export class AuthRegistry {
  readonly rcTokens = new Map<string, Session>();
  readonly sessions = new Map<string, Session>();
  readonly refreshTokens = new Map<string, string>();
  readonly principals = new Map<string, Principal>();
  readonly stats = { rcLogins: 0, exchanges: 0, refreshes: 0, revokedRefreshUses: 0 };

  constructor(private readonly seed: TenantSeed) {
    for (const p of seed.principals) {
      this.principals.set(p.id, { id: p.id, accounts: p.accounts, deniedProducts: p.deniedProducts ?? [] });
    }
  }

  /** RingCentral /restapi/oauth/token with the JWT bearer grant and HTTP Basic client auth. */
  rcJwtGrant(basicAuth: string | undefined, assertion: string | undefined): string | undefined {
    if (!basicAuth?.startsWith('Basic ')) return undefined;
    const [clientId, clientSecret] = Buffer.from(basicAuth.slice(6), 'base64').toString('utf8').split(':');
    const app = this.seed.apps.find((a) => a.clientId === clientId && a.clientSecret === clientSecret && a.jwt === assertion);
    if (!app) return undefined;
    const token = `rc-${randomUUID()}`;
    this.rcTokens.set(token, { principal: app.principal, expiresAt: Date.now() + 3_600_000 });
    this.stats.rcLogins += 1;
    return token;
  }

  exchange(rcAccessToken: string | undefined, lifetimeMs: number, includeRefresh: boolean) {
    const rc = rcAccessToken ? this.rcTokens.get(rcAccessToken) : undefined;
    if (!rc || rc.expiresAt < Date.now()) return undefined;
    this.stats.exchanges += 1;
    return this.issue(rc.principal, lifetimeMs, includeRefresh);
  }

  /** The refresh token is spent on use: a second use of the same one is refused, as RingCentral does. */
  refresh(refreshToken: string | undefined, lifetimeMs: number) {
    if (!refreshToken) return undefined;
    const principal = this.refreshTokens.get(refreshToken);
    if (!principal) {
      this.stats.revokedRefreshUses += 1;
      return undefined;
    }
    this.refreshTokens.delete(refreshToken);
    this.stats.refreshes += 1;
    return this.issue(principal, lifetimeMs, true);
  }

  private issue(principal: string, lifetimeMs: number, includeRefresh: boolean) {
    const expiresAt = Date.now() + lifetimeMs;
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: principal, exp: expiresAt / 1000, jti: randomUUID() })).toString('base64url');
    const accessToken = `${header}.${payload}.${randomBytes(16).toString('base64url')}`;
    this.sessions.set(accessToken, { principal, expiresAt });
    const refreshToken = includeRefresh ? `rt-${randomUUID()}` : undefined;
    if (refreshToken) this.refreshTokens.set(refreshToken, principal);
    return { accessToken, refreshToken, principal };
  }

  /** Resolves request headers to a principal, or says why not. */
  authenticate(headers: Record<string, string | string[] | undefined>): Principal | 'missing' | 'expired' | 'invalid' {
    const apiToken = headers['x-auth-token'];
    if (typeof apiToken === 'string') {
      const entry = this.seed.apiTokens.find((t) => t.token === apiToken);
      return entry ? (this.principals.get(entry.principal) ?? 'invalid') : 'invalid';
    }
    const authorization = headers.authorization;
    if (typeof authorization !== 'string' || !authorization.startsWith('Bearer ')) return 'missing';
    const session = this.sessions.get(authorization.slice(7));
    if (!session) return 'invalid';
    if (session.expiresAt <= Date.now()) return 'expired';
    return this.principals.get(session.principal) ?? 'invalid';
  }

  expireAllSessions(): void {
    for (const session of this.sessions.values()) session.expiresAt = 0;
  }
}
