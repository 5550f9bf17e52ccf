import { Agent, type Dispatcher, type FormData, request } from 'undici';
import type { z } from 'zod';
import { attemptTimeoutMs, retryFitsDeadline, takeTurn } from './callDeadline';
import { RingCxError } from './errors';
import type { RequestBudget } from './requestBudget';
import type { AuthHeader, TokenProvider } from './auth/tokenProvider';
import { DEFAULT_RETRY_POLICY, parseRetryAfter, type RetryPolicy, retryDelay } from './retryPolicy';
import { RingCxErrorBodySchema } from './schemas';

export { type CallDeadline, withCallDeadline, withOwedCalls } from './callDeadline';

/** One HTTP attempt, reported for metrics and tests. Carries no headers or bodies. */
export interface CallRecord {
  endpoint: string;
  method: string;
  /** HTTP status, or `timeout` / `connection`. */
  outcome: number | 'timeout' | 'connection';
  attempt: number;
  durationMs: number;
  /** The delay chosen before the next attempt, when there is one. */
  backoffMs?: number;
}

export interface TransportOptions {
  baseUrl: string;
  tokenProvider: TokenProvider;
  limiter?: RequestBudget;
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout covering headers and body. */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
  userAgent?: string;
  onCall?: (call: CallRecord) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export type RequestBody =
  | { kind: 'json'; value: unknown }
  | { kind: 'multipart'; value: FormData };

export interface RequestSpec<S extends z.ZodType> {
  /** A stable name for metrics, e.g. `searchDnis` or `assignGate`. */
  endpoint: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: RequestBody;
  schema: S;
  /**
   * False for writes that must not be sent twice (creates): after an ambiguous failure the change
   * may already stand, so the transport does not repeat the request and the caller reads first.
   * Failures RingCX never acted on (429, a refused connection, 4xx) are handled as usual.
   */
  repeatable?: boolean;
}

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let sharedAgent: Agent | undefined;
/** One keep-alive pool per process: TLS handshakes to RingCX are reused across invocations. */
function keepAliveAgent(): Agent {
  sharedAgent ??= new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000, connections: 16 });
  return sharedAgent;
}

/**
 * The one place where RingCX HTTP happens: rate limiting, auth, timeouts, retries with backoff and
 * typed errors. Operations in `client.ts` only describe requests.
 */
export class RingCxTransport {
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly dispatcher: Dispatcher;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  /** Smoothed duration of answered attempts; undefined until the first answer. */
  private latencyEwmaMs: number | undefined;
  /** Smoothed share of failed attempts, and when it was last updated (it fades while idle). */
  private failureEwma = 0;
  private failureObservedAt = 0;

  constructor(private readonly options: TransportOptions) {
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.dispatcher = options.dispatcher ?? keepAliveAgent();
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
  }

  /** This process's limiter, whose pace tells how long calls not yet made will take. */
  get limiter(): RequestBudget | undefined {
    return this.options.limiter;
  }

  /** The longest a single attempt may take before it is abandoned. */
  get requestTimeoutMs(): number {
    return this.timeoutMs;
  }

  /** What one call is expected to take once admitted, from recent answers (1 s before any). */
  get expectedLatencyMs(): number {
    return this.latencyEwmaMs ?? 1_000;
  }

  /** Attempts one call gets at most. */
  get maxAttempts(): number {
    return this.retry.maxAttempts;
  }

  /**
   * The share of recent attempts RingCX failed (5xx, timeouts, dropped connections), smoothed over
   * about the last ten attempts and halved for every two request timeouts without news. 429s and
   * 4xx answers say nothing about RingCX's health and are not counted.
   */
  get recentFailureRate(): number {
    const idle = performance.now() - this.failureObservedAt;
    return this.failureEwma * 0.5 ** (idle / (2 * this.timeoutMs));
  }

  private observeOutcome(failed: boolean): void {
    this.failureEwma = 0.9 * this.recentFailureRate + 0.1 * (failed ? 1 : 0);
    this.failureObservedAt = performance.now();
  }

  async send<S extends z.ZodType>(spec: RequestSpec<S>): Promise<z.output<S>> {
    const url = new URL(spec.path, this.options.baseUrl);
    for (const [key, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    let renewedToken = false;
    // Once an attempt may have been carried out, so may the call, however the last attempt fails.
    let mayHaveActed = false;
    const final = (error: RingCxError) => {
      error.earlierAttemptMayHaveActed ||= mayHaveActed;
      return error;
    };
    for (let attempt = 1; ; attempt++) {
      const auth = await this.options.tokenProvider.getAuthHeader();
      await takeTurn(this.options.limiter, { expectedMs: this.expectedLatencyMs, worstMs: this.timeoutMs }, () => final(new RingCxError({ kind: 'not-sent', method: spec.method, path: spec.path })));
      const timeoutMs = attemptTimeoutMs(this.timeoutMs, this.expectedLatencyMs);
      const started = performance.now();
      let error: RingCxError;
      let retryAfterMs: number | undefined;
      try {
        const response = await request(url, {
          method: spec.method,
          headers: this.headers(auth, spec.body),
          body: this.encode(spec.body),
          dispatcher: this.dispatcher,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.body.text();
        const status = response.statusCode;
        this.observeLatency(performance.now() - started);
        if (status >= 200 && status < 300) {
          this.observeOutcome(false);
          this.report(spec, status, attempt, started);
          return parseBody(spec, text);
        }
        error = httpError(spec, status, text);
        retryAfterMs = parseRetryAfter(response.headers['retry-after']);
        if (error.isExpiredToken && !renewedToken) {
          // RingCX tokens live 5 minutes; one forced re-read covers a rotation that raced this call.
          this.report(spec, status, attempt, started, 0);
          renewedToken = true;
          this.options.tokenProvider.invalidate(auth);
          attempt -= 1;
          continue;
        }
      } catch (cause) {
        if (cause instanceof RingCxError) throw final(cause);
        error = networkError(spec, cause);
      }
      error.attempts = attempt;
      if (error.kind !== 'http' || (error.status ?? 0) >= 500) this.observeOutcome(true);
      const outcome = error.kind === 'http' ? (error.status ?? 0) : (error.kind as 'timeout' | 'connection');
      // RingCX said how long to stop: everyone taking from this budget stops, even when the wait is
      // too long for this call to sit out (it fails as retryable and its row waits for later).
      if (error.status === 429 && retryAfterMs !== undefined) this.options.limiter?.pause(retryAfterMs);
      const delay = retryDelay(this.retry, { error, attempt, repeatable: spec.repeatable, retryAfterMs }, this.random);
      // Priced at the request timeout, not the usual latency: RingCX slows down exactly when calls
      // fail, and an attempt that outlives the deadline is cut off by it (Middy's early timeout,
      // then a frozen or killed environment), which is how a move's assignment got to land after
      // its invocation had already answered.
      // The wait for the retry's turn in the budget counts too (nothing, when turns were reserved).
      if (delay === undefined || !retryFitsDeadline(delay + (this.options.limiter?.estimateWaitMs(1) ?? 0) + this.timeoutMs)) {
        this.report(spec, outcome, attempt, started);
        throw final(error);
      }
      if (error.ambiguous) mayHaveActed = true;
      this.report(spec, outcome, attempt, started, delay);
      if (error.status === 429 && retryAfterMs === undefined) this.options.limiter?.pause(delay);
      await this.sleep(delay);
    }
  }

  private observeLatency(ms: number): void {
    this.latencyEwmaMs = this.latencyEwmaMs === undefined ? ms : 0.8 * this.latencyEwmaMs + 0.2 * ms;
  }

  private headers(auth: AuthHeader, body: RequestBody | undefined): Record<string, string> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.options.userAgent ?? 'dnis-sync/0.1',
      [auth.name]: auth.value,
    };
    if (body?.kind === 'json') headers['content-type'] = 'application/json';
    return headers;
  }

  private encode(body: RequestBody | undefined): string | FormData | undefined {
    if (!body) return undefined;
    return body.kind === 'json' ? JSON.stringify(body.value) : body.value;
  }

  private report(spec: RequestSpec<z.ZodType>, outcome: CallRecord['outcome'], attempt: number, started: number, backoffMs?: number) {
    this.options.onCall?.({
      endpoint: spec.endpoint,
      method: spec.method,
      outcome,
      attempt,
      durationMs: performance.now() - started,
      ...(backoffMs !== undefined ? { backoffMs } : {}),
    });
  }
}

function parseBody<S extends z.ZodType>(spec: RequestSpec<S>, text: string): z.output<S> {
  let value: unknown = undefined;
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
  }
  const parsed = spec.schema.safeParse(value);
  if (!parsed.success) {
    throw new RingCxError({
      kind: 'http',
      method: spec.method,
      path: spec.path,
      status: 200,
      errorCode: 'unexpected.response',
      generalMessage: `response did not match the expected shape (${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message})`,
    });
  }
  return parsed.data;
}

function httpError(spec: RequestSpec<z.ZodType>, status: number, text: string): RingCxError {
  let body: z.infer<typeof RingCxErrorBodySchema> | undefined;
  try {
    const parsed = RingCxErrorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) body = parsed.data;
  } catch {
    // RingCX answers some errors (notably "Jwt is expired") as plain text.
  }
  const validation = body?.validationErrors?.map((v) => `${v.attributeName}: ${v.message}`).join('; ');
  const generalMessage =
    body?.generalMessage ?? body?.message ?? validation ?? (text.trim().slice(0, 200) || undefined);
  return new RingCxError({
    kind: 'http',
    method: spec.method,
    path: spec.path,
    status,
    errorCode: body?.errorCode ?? undefined,
    generalMessage: generalMessage ?? undefined,
    requestUri: body?.requestUri ?? undefined,
  });
}

function networkError(spec: RequestSpec<z.ZodType>, cause: unknown): RingCxError {
  const code = (cause as { code?: string })?.code ?? '';
  const name = (cause as { name?: string })?.name ?? '';
  const timeout = TIMEOUT_CODES.has(code) || name === 'TimeoutError' || name === 'AbortError';
  if (!timeout && !CONNECTION_CODES.has(code) && !(cause instanceof TypeError)) throw cause;
  return new RingCxError({ kind: timeout ? 'timeout' : 'connection', method: spec.method, path: spec.path, cause });
}
