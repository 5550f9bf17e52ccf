import { RingCxAuthError } from '../errors';
import { type AuthEndpoints, loginWithJwt, refreshSession, type RingCxSession } from './exchange';
import { jwtCredentialsOf, parseExpiresAt, parseRingCxSecret } from './credentials';

export interface AuthHeader {
  name: 'authorization' | 'x-auth-token';
  value: string;
}

export interface TokenProvider {
  getAuthHeader(): Promise<AuthHeader>;
  /** The server rejected this header as expired: the next call must not reuse it. */
  invalidate(rejected?: AuthHeader): void;
}

export interface SecretTokenProviderOptions {
  /** Returns the secret string, e.g. from Secrets Manager. Called on every cache miss. */
  readSecret: () => Promise<string>;
  /** Needed only when the provider may have to log in itself. */
  endpoints?: AuthEndpoints;
  /** Upper bound on how long a value is reused without re-reading the secret. */
  maxCacheMs?: number;
  /** A token this close to expiry is treated as expired. */
  expirySkewMs?: number;
  /**
   * When the secret's token is missing or expired and it holds JWT credentials, log in from this
   * process. On by default for local runs; in Lambda the refresher owns logins, because the exchange
   * admits 5 calls a minute and fifty cold workers would exhaust it.
   */
  selfLogin?: boolean;
  now?: () => number;
}

interface CachedAuth {
  header: AuthHeader;
  /** When to look at the secret again. */
  validUntil: number;
  /** When the token itself stops being usable (its expiry less the skew); later than validUntil. */
  tokenValidUntil: number;
}

/**
 * Reads the RingCX credentials from the secret and hands out the header to send. The value is kept
 * in memory for a bounded time, shorter than the token's remaining life, so a token rotated by the
 * refresher is picked up without a restart.
 */
export class SecretTokenProvider implements TokenProvider {
  private cached: CachedAuth | undefined;
  private inflight: Promise<CachedAuth> | undefined;
  private rejectedValue: string | undefined;
  private ownSession: RingCxSession | undefined;
  private readonly maxCacheMs: number;
  private readonly skewMs: number;
  private readonly now: () => number;
  /** For tests and metrics: how often the secret was read and how often this process logged in. */
  readonly stats = { secretReads: 0, logins: 0, refreshes: 0 };

  constructor(private readonly options: SecretTokenProviderOptions) {
    this.maxCacheMs = options.maxCacheMs ?? 60_000;
    this.skewMs = options.expirySkewMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  async getAuthHeader(): Promise<AuthHeader> {
    const cached = this.cached;
    if (cached && this.now() < cached.validUntil) return cached.header;
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    try {
      this.cached = await this.inflight;
    } catch (error) {
      // The secret no longer yields a usable token (an outage, an operator mid-edit), but the one
      // this process holds is still alive: keep using it until it expires or RingCX refuses it.
      // Dropping it early would, among other things, split a move between its remove and its assign.
      if (error instanceof RingCxAuthError && cached && cached.header.value !== this.rejectedValue && this.now() < cached.tokenValidUntil) {
        return cached.header;
      }
      throw error;
    }
    return this.cached.header;
  }

  invalidate(rejected?: AuthHeader): void {
    this.cached = undefined;
    if (rejected) this.rejectedValue = rejected.value;
    if (this.ownSession && rejected?.value === `Bearer ${this.ownSession.accessToken}`) {
      this.ownSession = { ...this.ownSession, expiresAt: 0 };
    }
  }

  private async load(): Promise<CachedAuth> {
    this.stats.secretReads += 1;
    const secret = parseRingCxSecret(await this.options.readSecret());
    const now = this.now();
    if (secret.apiToken) {
      // An API token has no expiry to hold it to, so it is never used past a failed re-read.
      return { header: { name: 'x-auth-token', value: secret.apiToken }, validUntil: now + this.maxCacheMs, tokenValidUntil: now + this.maxCacheMs };
    }
    const expiresAt = parseExpiresAt(secret.expiresAt);
    const bearer = secret.accessToken ? `Bearer ${secret.accessToken}` : undefined;
    const secretTokenUsable =
      bearer !== undefined &&
      bearer !== this.rejectedValue &&
      (expiresAt === undefined || expiresAt - this.skewMs > now);
    if (secretTokenUsable && bearer) {
      const tokenValidUntil = expiresAt === undefined ? now + this.maxCacheMs : expiresAt - this.skewMs;
      return { header: { name: 'authorization', value: bearer }, validUntil: Math.min(now + this.maxCacheMs, tokenValidUntil), tokenValidUntil };
    }

    const credentials = jwtCredentialsOf(secret);
    if (!credentials || !(this.options.selfLogin ?? true) || !this.options.endpoints) {
      throw new RingCxAuthError(
        secret.accessToken
          ? 'the RingCX token in the secret has expired and this process may not log in; check that the token refresher runs'
          : 'the RingCX secret holds no token and this process may not log in; run the token refresher once',
      );
    }
    const session = await this.ownFreshSession(credentials, secret.refreshToken);
    return {
      header: { name: 'authorization', value: `Bearer ${session.accessToken}` },
      validUntil: Math.min(now + this.maxCacheMs, session.expiresAt - this.skewMs),
      tokenValidUntil: session.expiresAt - this.skewMs,
    };
  }

  private async ownFreshSession(
    credentials: NonNullable<ReturnType<typeof jwtCredentialsOf>>,
    secretRefreshToken: string | undefined,
  ): Promise<RingCxSession> {
    const endpoints = this.options.endpoints as AuthEndpoints;
    const current = this.ownSession;
    if (current && current.expiresAt - this.skewMs > this.now()) return current;
    const refreshToken = current?.refreshToken ?? secretRefreshToken;
    if (refreshToken) {
      try {
        this.stats.refreshes += 1;
        this.ownSession = await refreshSession(refreshToken, endpoints);
        return this.ownSession;
      } catch (error) {
        // A spent or revoked refresh token: fall through to a full login.
        if (!(error instanceof RingCxAuthError)) throw error;
      }
    }
    this.stats.logins += 1;
    this.ownSession = await loginWithJwt(credentials, endpoints);
    return this.ownSession;
  }
}

/** A fixed header, for tests and for tools that already hold a token. */
export function staticTokenProvider(header: AuthHeader): TokenProvider {
  return { getAuthHeader: async () => header, invalidate: () => undefined };
}
