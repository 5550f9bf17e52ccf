import type { Route, RouteContext, RouteResult } from '../route';

/** Form fields, falling back to the query string: the spec declares them as query parameters, every SDK sends a form. */
function field(ctx: RouteContext, name: string): string | undefined {
  const form = new URLSearchParams(ctx.body.toString('utf8'));
  return form.get(name) ?? ctx.query.get(name) ?? undefined;
}

const unauthorized = (message: string): RouteResult => ({
  status: 401,
  json: { errorCode: 'unauthorized', generalMessage: message, timestamp: Date.now() },
});

function tokenBody(ctx: RouteContext, issued: { accessToken: string; refreshToken: string | undefined }) {
  return {
    accessToken: issued.accessToken,
    ...(issued.refreshToken ? { refreshToken: issued.refreshToken } : {}),
    tokenType: 'Bearer',
    mainAccountId: ctx.sim.seed.mainAccountId,
    platformId: 'sim',
    adminId: 1,
    adminUrl: '/voice/admin/',
    agentUrl: '/voice/agent/',
    agentDetails: [],
  };
}

export const authRoutes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/restapi\/oauth\/token$/,
    name: 'auth.rcToken',
    kind: 'auth',
    handle(ctx) {
      if (field(ctx, 'grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
        return { status: 400, json: { error: 'unsupported_grant_type', error_description: 'Unsupported grant type' } };
      }
      const token = ctx.sim.auth.rcJwtGrant(ctx.req.headers.authorization, field(ctx, 'assertion'));
      if (!token) return { status: 400, json: { error: 'invalid_grant', error_description: 'Invalid JWT credentials' } };
      return { json: { access_token: token, token_type: 'bearer', expires_in: 3600, refresh_token: `rc-refresh-${token}`, scope: 'ReadAccounts' } };
    },
  },
  {
    method: 'POST',
    pattern: /^\/api\/auth\/login\/rc\/accesstoken$/,
    name: 'auth.exchange',
    kind: 'auth',
    handle(ctx) {
      const { budget, windowMs } = ctx.sim.knobs.exchangeLimit;
      const wait = ctx.sim.exchangeWindow.take('exchange', budget, windowMs, Date.now());
      if (wait > 0) {
        return { status: 429, headers: { 'retry-after': String(Math.ceil(wait / 1000)) }, json: { errorCode: 'rate.limit.exceeded', generalMessage: 'Too Many Requests' } };
      }
      const issued = ctx.sim.auth.exchange(
        field(ctx, 'rcAccessToken'),
        ctx.sim.knobs.tokenLifetimeMs,
        ctx.query.get('includeRefresh') === 'true',
      );
      if (!issued) return unauthorized('Invalid RingCentral access token');
      return { json: tokenBody(ctx, issued) };
    },
  },
  {
    method: 'POST',
    pattern: /^\/api\/auth\/token\/refresh$/,
    name: 'auth.refresh',
    kind: 'auth',
    handle(ctx) {
      const issued = ctx.sim.auth.refresh(field(ctx, 'refresh_token'), ctx.sim.knobs.tokenLifetimeMs);
      if (!issued) return unauthorized('Invalid or revoked refresh token');
      return { json: tokenBody(ctx, issued) };
    },
  },
];
