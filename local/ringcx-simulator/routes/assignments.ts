import { cappedArray } from '../arrayCap';
import { badRequest, notFound } from '../errors';
import type { Route } from '../route';
import type { TargetType } from '../state';

const TN = '/voice/api/v1/admin/utilities/tnManager';

function assignRoute(segment: string, type: TargetType, name: string): Route {
  return {
    method: 'PUT',
    pattern: new RegExp(`^${TN}/assignedDnis/${segment}(?:/(?<id>[^/]*))?$`),
    name,
    kind: 'api',
    handle(ctx) {
      const id = Number(ctx.params.id);
      if (!ctx.params.id || !Number.isInteger(id) || id <= 0) throw badRequest(`${segment} id is missing or invalid`, `${type}Id`);
      const body = ctx.json();
      if (!Array.isArray(body)) throw badRequest('Request body must be a JSON array');
      const assigned = ctx.sim.state.assign(ctx.principal, type, id, cappedArray(ctx, body), ctx.sim.knobs.assignConflict);
      return {
        json: body.map((item, index) => ctx.sim.state.assignmentJson(String((item as { dnis: string }).dnis), assigned[index]!)),
      };
    },
  };
}

export const assignmentRoutes: Route[] = [
  assignRoute('gates', 'gate', 'assign.gate'),
  assignRoute('visualIvrs', 'visualIvr', 'assign.visualIvr'),
  assignRoute('cloudRouteProfiles', 'cloudRouteProfile', 'assign.cloudRouteProfile'),
  {
    method: 'GET',
    pattern: new RegExp(`^${TN}/assignedDnis/(?<dnis>[^/]+)$`),
    name: 'getAssignment',
    kind: 'api',
    handle(ctx) {
      const dnis = (ctx.params.dnis ?? '').replace(/^\+/, '');
      ctx.sim.state.requireRecord(ctx.principal, dnis);
      const assignment = ctx.sim.state.assignments.get(dnis);
      if (!assignment) throw notFound(`DNIS ${dnis} is not assigned`);
      return { json: ctx.sim.state.assignmentJson(dnis, assignment) };
    },
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^${TN}/assignedDnis/(?<dnis>[^/]+)$`),
    name: 'removeAssignment',
    kind: 'api',
    handle(ctx) {
      return { json: ctx.sim.state.unassign(ctx.principal, (ctx.params.dnis ?? '').replace(/^\+/, '')) };
    },
  },
];
