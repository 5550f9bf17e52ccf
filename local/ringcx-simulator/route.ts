import type { IncomingMessage } from 'node:http';
import type { AuthRegistry, SlidingWindow } from './auth';
import type { TenantSeed } from './fixtures';
import type { Knobs, KnobsPatch } from './knobs';
import type { Principal, TenantState } from './state';

/*
 * What a route handler is and what it sees of the simulator. The routes import this, not the
 * server, which imports the routes.
 */

/** The simulator as its routes use it: the tenant, its sessions and knobs, and the request log. */
export interface SimulatorView {
  state: TenantState;
  auth: AuthRegistry;
  knobs: Knobs;
  readonly seed: TenantSeed;
  readonly log: RequestLogEntry[];
  readonly exchangeWindow: SlidingWindow;
  setKnobs(patch: KnobsPatch): Knobs;
  /** Back to the seed: inventory, sessions, counters, log and limits. Knobs stay. */
  reset(): void;
  counterSnapshot(): Record<string, Record<string, number>>;
}

export interface RouteContext {
  sim: SimulatorView;
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Buffer;
  /** Set for API routes; undefined for auth and admin routes. */
  principal: Principal;
  json(): unknown;
}

export interface RouteResult {
  status?: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

export interface Route {
  method: string;
  pattern: RegExp;
  /** Stable name used in counters and the request log. */
  name: string;
  kind: 'api' | 'auth' | 'admin';
  handle(ctx: RouteContext): RouteResult | Promise<RouteResult>;
}

export interface RequestLogEntry {
  seq: number;
  at: number;
  method: string;
  path: string;
  route: string;
  status: number | 'reset' | 'timeout';
  principal?: string | undefined;
  durationMs: number;
  /** The parsed JSON body of write calls, for invariant checks. Never includes credentials. */
  body?: unknown;
  /** The request was carried out, then answered with a fault instead (knob `loseAnswerRate`). */
  answerLost?: true;
}
