import { badRequest, SimError } from '../errors';
import { inventoryNumbers } from '../fixtures';
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
  {
    // A large inventory in one request (`{"count": 250000}`), where creating it through the API
    // would take RingCX's budget for hours. Numbers as fixtures.ts `inventoryNumbers` makes them.
    method: 'POST',
    pattern: /^\/_sim\/pool\/bulk$/,
    name: 'admin.bulkPool',
    kind: 'admin',
    handle: (ctx) => {
      const body = (ctx.json() ?? {}) as { count?: unknown; firstNumber?: unknown; description?: unknown };
      const count = Number(body.count);
      if (!Number.isInteger(count) || count < 1 || count > 2_000_000) throw badRequest('count must be an integer from 1 to 2,000,000');
      const records = inventoryNumbers(count, {
        ...(typeof body.firstNumber === 'number' ? { firstNumber: body.firstNumber } : {}),
        ...(typeof body.description === 'string' ? { description: body.description } : {}),
      });
      ctx.sim.state.addSeeded(records);
      return { json: { added: records.length, pool: ctx.sim.state.pool.size } };
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
