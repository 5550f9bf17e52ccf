import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AuthRegistry, SlidingWindow } from './auth';
import { SimError } from './errors';
import { demoTenant, type TenantSeed } from './fixtures';
import { type Knobs, type KnobsInput, type KnobsPatch, KnobsSchema, mergeKnobs } from './knobs';
import { adminRoutes } from './routes/admin';
import { assignmentRoutes } from './routes/assignments';
import { authRoutes } from './routes/auth';
import { poolRoutes } from './routes/pool';
import { trackingRoutes } from './routes/tracking';
import type { RequestLogEntry, Route, RouteContext, RouteResult, SimulatorView } from './route';
import type { Principal } from './state';
import { TenantState } from './state';

export type { RequestLogEntry } from './route';

export interface SimulatorOptions {
  port?: number;
  host?: string;
  seed?: TenantSeed;
  knobs?: KnobsInput;
  /** Keep request bodies of API writes in the log (tests that count creates need them). */
  logBodies?: boolean;
  random?: () => number;
}

const ROUTES: Route[] = [...authRoutes, ...poolRoutes, ...assignmentRoutes, ...trackingRoutes, ...adminRoutes];

/**
 * An in-memory RingCX tenant behind a real HTTP server: the auth endpoints, the tnManager pool and
 * assignment API, and tracking groups, with RingCX's error bodies, rate limits and token expiry,
 * plus fault injection for tests. `/_sim/*` is the admin surface.
 */
export class RingCxSimulator implements SimulatorView {
  state: TenantState;
  auth: AuthRegistry;
  knobs: Knobs;
  readonly log: RequestLogEntry[] = [];
  readonly counters = new Map<string, Record<string, number>>();
  readonly rateWindow = new SlidingWindow();
  readonly exchangeWindow = new SlidingWindow();
  readonly seed: TenantSeed;
  readonly logBodies: boolean;
  private seq = 0;
  private server: Server | undefined;
  private readonly random: () => number;
  private readonly hanging = new Set<ServerResponse>();
  url = '';

  constructor(options: SimulatorOptions = {}) {
    this.seed = options.seed ?? demoTenant();
    this.state = new TenantState(this.seed);
    this.auth = new AuthRegistry(this.seed);
    this.knobs = KnobsSchema.parse(options.knobs ?? {});
    this.logBodies = options.logBodies ?? true;
    this.random = options.random ?? Math.random;
  }

  setKnobs(patch: KnobsPatch): Knobs {
    this.knobs = mergeKnobs(this.knobs, patch);
    return this.knobs;
  }

  /** Back to the seed: inventory, sessions, counters, log and limits. Knobs stay. */
  reset(): void {
    this.state = new TenantState(this.seed);
    this.auth = new AuthRegistry(this.seed);
    this.log.length = 0;
    this.counters.clear();
    this.rateWindow.clear();
    this.exchangeWindow.clear();
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      this.dispatch(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ errorCode: 'internal.error', generalMessage: String(error) }));
        }
      });
    });
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => this.server?.listen(port, host, resolve));
    const address = this.server.address() as AddressInfo;
    this.url = `http://${host}:${address.port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  /** Requests per route and status, e.g. `{ "POST createDnisPool": { "200": 3, "409": 1 } }`. */
  counterSnapshot(): Record<string, Record<string, number>> {
    return Object.fromEntries(this.counters);
  }

  /** API (non-auth, non-admin) requests in the log, optionally for one route. */
  apiCalls(route?: string): RequestLogEntry[] {
    return this.log.filter((e) => !e.route.startsWith('auth.') && (route === undefined || e.route === route));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? '/', 'http://sim');
    const method = req.method ?? 'GET';
    const route = ROUTES.find((r) => r.method === method && r.pattern.test(url.pathname));
    const body = await readBody(req);
    const entry: RequestLogEntry = {
      seq: ++this.seq,
      at: Date.now(),
      method,
      path: url.pathname,
      route: route?.name ?? 'unknown',
      status: 0,
      durationMs: 0,
    };
    const finish = (status: RequestLogEntry['status']) => {
      entry.status = status;
      entry.durationMs = performance.now() - started;
      if (route?.kind === 'admin') return;
      this.log.push(entry);
      const key = `${method} ${entry.route}`;
      const counts = this.counters.get(key) ?? {};
      counts[String(status)] = (counts[String(status)] ?? 0) + 1;
      this.counters.set(key, counts);
    };
    const send = (status: number, result: RouteResult) => {
      const headers: Record<string, string> = { ...result.headers };
      let payload = '';
      if (result.text !== undefined) {
        headers['content-type'] ??= 'text/plain';
        payload = result.text;
      } else if (result.json !== undefined) {
        headers['content-type'] = 'application/json';
        payload = JSON.stringify(result.json);
      }
      res.writeHead(status, headers);
      res.end(payload);
      finish(status);
    };
    const fail = (error: SimError) =>
      send(error.status, {
        json: {
          errorCode: error.errorCode,
          generalMessage: error.generalMessage,
          details: '',
          requestUri: `${url.pathname} - ${method}`,
          timestamp: Date.now(),
          ...(error.validationErrors ? { validationErrors: error.validationErrors } : {}),
        },
      });

    if (!route) return fail(new SimError(404, 'resource.not.found.exception', `No handler for ${method} ${url.pathname}`));

    let principal: Principal | undefined;
    if (route.kind === 'api') {
      const auth = this.auth.authenticate(req.headers);
      if (auth === 'expired') return send(401, { text: 'Jwt is expired' });
      if (auth === 'missing' || auth === 'invalid') {
        return send(401, { json: { errorCode: 'unauthorized', generalMessage: 'Full authentication is required to access this resource', requestUri: `${url.pathname} - ${method}`, timestamp: Date.now() } });
      }
      principal = auth;
      entry.principal = principal.id;
      const { budget, windowMs, retryAfter } = this.knobs.rateLimit;
      const now = Date.now();
      const forced = this.knobs.faults.forced429 > 0;
      if (forced) this.knobs.faults.forced429 -= 1;
      const storm = this.knobs.faults.throttleUntil > now ? this.knobs.faults.throttleUntil - now : 0;
      const waitMs = forced ? 1_000 : storm > 0 ? storm : this.rateWindow.take(principal.id, budget, windowMs, now);
      if (waitMs > 0) {
        return send(429, {
          json: { errorCode: 'rate.limit.exceeded', generalMessage: 'Too Many Requests', requestUri: `${url.pathname} - ${method}`, timestamp: Date.now() },
          ...(retryAfter ? { headers: { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) } } : {}),
        });
      }
    }

    if (route.kind !== 'admin') {
      const latency = this.knobs.latencyMs + this.random() * this.knobs.latencyJitterMs;
      if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
      if (route.kind === 'api' || this.knobs.faults.includeAuth) {
        const { resetRate, timeoutRate, errorRate, hangMs } = this.knobs.faults;
        const roll = this.random();
        if (roll < resetRate) {
          req.socket.destroy();
          return finish('reset');
        }
        if (roll < resetRate + timeoutRate) {
          this.hanging.add(res);
          finish('timeout');
          setTimeout(() => {
            this.hanging.delete(res);
            res.destroy();
          }, hangMs).unref();
          return;
        }
        if (roll < resetRate + timeoutRate + errorRate) {
          const status = this.random() < 0.5 ? 500 : 503;
          return fail(new SimError(status, 'internal.server.error', status === 503 ? 'Service Unavailable' : 'Internal Server Error'));
        }
      }
    }

    const match = route.pattern.exec(url.pathname);
    const params = Object.fromEntries(
      Object.entries(match?.groups ?? {}).map(([key, value]) => [key, decodeURIComponent(value)]),
    );
    const ctx: RouteContext = {
      sim: this,
      req,
      params,
      query: url.searchParams,
      body,
      principal: principal as Principal,
      json: () => {
        if (body.length === 0) return undefined;
        try {
          return JSON.parse(body.toString('utf8'));
        } catch {
          throw new SimError(400, 'validation.exception', 'Malformed JSON request body');
        }
      },
    };
    try {
      const result = await route.handle(ctx);
      if (this.logBodies && route.kind === 'api' && method !== 'GET' && body.length > 0) {
        try {
          entry.body = JSON.parse(body.toString('utf8'));
        } catch {
          entry.body = undefined;
        }
      }
      if (route.kind === 'api' && this.knobs.faults.loseAnswerRate > 0 && this.random() < this.knobs.faults.loseAnswerRate) {
        entry.answerLost = true;
        if (this.random() < 0.5) {
          req.socket.destroy();
          return finish('reset');
        }
        return fail(new SimError(500, 'internal.server.error', 'Internal Server Error'));
      }
      send(result.status ?? 200, result);
    } catch (error) {
      if (error instanceof SimError) return fail(error);
      throw error;
    }
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Starts a simulator on an ephemeral port: the way tests and the local runner use it. */
export async function startRingCxSimulator(options: SimulatorOptions = {}): Promise<RingCxSimulator> {
  const sim = new RingCxSimulator(options);
  await sim.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  return sim;
}
