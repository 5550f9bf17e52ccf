import { badRequest, notFound } from '../errors';
import type { Route, RouteContext } from '../route';

const ACC = '/voice/api/v1/admin/accounts/(?<accountId>[^/]+)/tracGroups';

function groupJson(ctx: RouteContext, accountId: string, tracGroupId: number, withChildren: boolean) {
  const group = ctx.sim.state.requireTracGroup(ctx.principal, accountId, tracGroupId);
  return {
    tracGroupId: group.tracGroupId,
    groupName: group.groupName,
    isDefault: false,
    permissions: ['READ', 'UPDATE', 'CREATE'],
    ...(withChildren
      ? {
          tracNumbers: [...ctx.sim.state.tracNumbers.values()]
            .filter((t) => t.tracGroupId === tracGroupId)
            .map((t) => ctx.sim.state.tracNumberJson(t)),
        }
      : {}),
  };
}

const ids = (ctx: RouteContext) => {
  const accountId = ctx.params.accountId ?? '';
  if (!/^[0-9]+$/.test(accountId)) throw badRequest('accountId must be numeric', 'accountId', accountId);
  return { accountId, tracGroupId: Number(ctx.params.tracGroupId), tracId: Number(ctx.params.tracId) };
};

const body = (ctx: RouteContext) => {
  const value = ctx.json();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('Request body must be a JSON object');
  return value as Record<string, unknown>;
};

export const trackingRoutes: Route[] = [
  {
    method: 'GET',
    pattern: new RegExp(`^${ACC}/withChildren$`),
    name: 'listTracGroups',
    kind: 'api',
    handle(ctx) {
      const { accountId } = ids(ctx);
      ctx.sim.state.requireAccount(ctx.principal, accountId);
      const groups = ctx.sim.seed.tracGroups.filter((g) => g.accountId === accountId);
      return { json: groups.map((g) => groupJson(ctx, accountId, g.tracGroupId, true)) };
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${ACC}/(?<tracGroupId>\\d+)$`),
    name: 'getTracGroup',
    kind: 'api',
    handle(ctx) {
      const { accountId, tracGroupId } = ids(ctx);
      return { json: groupJson(ctx, accountId, tracGroupId, false) };
    },
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${ACC}/(?<tracGroupId>\\d+)$`),
    name: 'updateTracGroup',
    kind: 'api',
    handle(ctx) {
      const { accountId, tracGroupId } = ids(ctx);
      const group = ctx.sim.state.requireTracGroup(ctx.principal, accountId, tracGroupId);
      const patch = body(ctx);
      if (typeof patch.groupName === 'string') group.groupName = patch.groupName;
      return { json: groupJson(ctx, accountId, tracGroupId, false) };
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${ACC}/(?<tracGroupId>\\d+)/tracNumbers$`),
    name: 'listTracNumbers',
    kind: 'api',
    handle(ctx) {
      const { accountId, tracGroupId } = ids(ctx);
      return { json: groupJson(ctx, accountId, tracGroupId, true).tracNumbers };
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${ACC}/(?<tracGroupId>\\d+)/tracNumbers$`),
    name: 'createTracNumber',
    kind: 'api',
    handle(ctx) {
      const { accountId, tracGroupId } = ids(ctx);
      const trac = ctx.sim.state.createTracNumber(ctx.principal, accountId, tracGroupId, body(ctx), ctx.sim.knobs.assignConflict);
      return { json: ctx.sim.state.tracNumberJson(trac) };
    },
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${ACC}/(?<tracGroupId>\\d+)/tracNumbers/(?<tracId>\\d+)$`),
    name: 'updateTracNumber',
    kind: 'api',
    handle(ctx) {
      const { accountId, tracGroupId, tracId } = ids(ctx);
      if (!ctx.sim.state.tracNumbers.has(tracId)) throw notFound(`Tracking number ${tracId} does not exist`);
      const trac = ctx.sim.state.updateTracNumber(ctx.principal, accountId, tracGroupId, tracId, body(ctx), ctx.sim.knobs.assignConflict);
      return { json: ctx.sim.state.tracNumberJson(trac) };
    },
  },
];
