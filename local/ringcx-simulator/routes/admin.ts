import { SimError } from '../errors';
import type { KnobsPatch } from '../knobs';
import type { Route } from '../route';

/** The simulator's own control surface; never part of the RingCX API. */
export const adminRoutes: Route[] = [
  { method: 'GET', pattern: /^\/_sim\/state$/, name: 'admin.state', kind: 'admin', handle: (ctx) => ({ json: ctx.sim.state.snapshot() }) },
  {
    method: 'GET',
    pattern: /^\/_sim\/log$/,
    name: 'admin.log',
    kind: 'admin',
    handle: (ctx) => {
      const since = Number(ctx.query.get('since') ?? 0);
      return { json: ctx.sim.log.filter((e) => e.seq > since) };
    },
  },
  { method: 'GET', pattern: /^\/_sim\/counters$/, name: 'admin.counters', kind: 'admin', handle: (ctx) => ({ json: ctx.sim.counterSnapshot() }) },
  { method: 'GET', pattern: /^\/_sim\/knobs$/, name: 'admin.knobs', kind: 'admin', handle: (ctx) => ({ json: ctx.sim.knobs }) },
  {
    method: 'PATCH',
    pattern: /^\/_sim\/knobs$/,
    name: 'admin.setKnobs',
    kind: 'admin',
    handle: (ctx) => {
      try {
        return { json: ctx.sim.setKnobs((ctx.json() ?? {}) as KnobsPatch) };
      } catch (error) {
        throw new SimError(400, 'validation.exception', `Invalid knobs: ${String(error)}`);
      }
    },
  },
  { method: 'POST', pattern: /^\/_sim\/reset$/, name: 'admin.reset', kind: 'admin', handle: (ctx) => (ctx.sim.reset(), { json: true }) },
  {
    method: 'POST',
    pattern: /^\/_sim\/expire-tokens$/,
    name: 'admin.expireTokens',
    kind: 'admin',
    handle: (ctx) => (ctx.sim.auth.expireAllSessions(), { json: true }),
  },
];
