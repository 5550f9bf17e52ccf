import type { Target } from '../../domain/desiredRow';
import type { RingCxClient } from '../../ringcx/client';
import { withOwedCalls } from '../../ringcx/transport';
import { shapeOf } from './admission';
import { ARRAY_KINDS, applyArray } from './applyArray';
import type { InvocationDeadline } from './budget';
import type { SyncOptions } from './contract';
import type { IntentBook } from './intentBook';
import { applyUnit, finishGap } from './moves';
import { hasPrecondition, stillAsExpected } from './preconditions';
import { type AssignmentAction, type UnroutedSince, type Work, actionsOf, alive, assignmentAction, defer, itemOf, poolInput, recordFields, settle } from './work';

export async function applyWrites(
  client: RingCxClient,
  writes: Work[],
  options: SyncOptions,
  deadline: InvocationDeadline | undefined,
  intents: IntentBook,
  unroutedSince: UnroutedSince,
): Promise<void> {
  const oneMoreCall = () => !deadline || deadline.fits(1);

  // 1. New pool records, one atomic array call (split only around bad records).
  const creates = writes.filter((w) => actionsOf(w, 'createPool').length > 0);
  const createResults = await applyArray(
    creates,
    options.maxArray,
    (chunk) => client.createDnisPool(chunk.map((w) => poolInput(w, actionsOf(w, 'createPool')[0]?.fields ?? {}))),
    oneMoreCall,
    ARRAY_KINDS.create,
  );
  // A 409 on create means the number appeared since the search (a concurrent or timed-out earlier
  // attempt created it); a lost answer means it may have. Either way: re-read, never create twice.
  createResults.forEach((result, i) => settle(creates[i] as Work, result, 'created', true, deadline));

  // 2. Changed pool fields. The whole record is sent: a PUT may replace what it is not given.
  const updates = writes.filter((w) => alive(w) && actionsOf(w, 'updatePool').length > 0);
  const updateResults = await applyArray(
    updates,
    options.maxArray,
    (chunk) => client.updateDnisPool(chunk.map((w) => poolInput(w, { ...recordFields(w.record), ...actionsOf(w, 'updatePool')[0]?.fields }))),
    oneMoreCall,
    ARRAY_KINDS.update,
  );
  updateResults.forEach((result, i) => settle(updates[i] as Work, result, 'pool record updated', false, deadline));

  // 3. Voice assignments in one array call per destination: new assignments, changed ones, and
  // moves where RingCX moves a number on PUT (one call, never unrouted).
  const byTarget = new Map<string, { target: Target; rows: Work[] }>();
  const units: Work[] = [];
  for (const w of writes.filter(alive)) {
    const shape = shapeOf(w, options);
    if (!shape.arrayTarget) {
      if (shape.unitCalls > 0) units.push(w);
      continue;
    }
    const action = assignmentAction(w) as AssignmentAction;
    const group = byTarget.get(shape.arrayTarget) ?? { target: action.target, rows: [] };
    group.rows.push(w);
    byTarget.set(shape.arrayTarget, group);
  }
  for (const { target, rows } of byTarget.values()) {
    const ready: Work[] = [];
    for (const w of rows) {
      // A move with a precondition is checked on a fresh read just before its PUT.
      if (actionsOf(w, 'reassign').length > 0 && hasPrecondition(w.request)) {
        if (!oneMoreCall()) {
          defer(w, deadline, 2, 'this move');
          continue;
        }
        if (!(await stillAsExpected(client, w, intents))) continue;
      }
      ready.push(w);
    }
    const voiceType = target.type as Exclude<Target['type'], 'trackingGroup'>;
    // Numbers this invocation unrouted go first, in calls of their own that the deadline never holds back.
    ready.sort((a, b) => Number(b.mustFinish ?? false) - Number(a.mustFinish ?? false));
    const rescued = ready.filter((w) => w.mustFinish).length;
    const send = (chunk: Work[]) => client.assign(voiceType, target.id, chunk.map((w) => ({ dnis: w.request.row.dnis, ...itemOf(w) })));
    const assignResults = [
      ...(await withOwedCalls(() => applyArray(ready.slice(0, rescued), options.maxArray, send, () => true, ARRAY_KINDS.assign))),
      ...(await applyArray(ready.slice(rescued), options.maxArray, send, oneMoreCall, ARRAY_KINDS.assign)),
    ];
    assignResults.forEach((result, i) => {
      const w = ready[i] as Work;
      // A 409 on a plain assign: someone assigned the number since the search; re-plan so the
      // row's on_conflict rule decides, instead of reporting a raw 409.
      settle(w, result, undefined, actionsOf(w, 'assign').length > 0, deadline);
      if (!result.ok) return;
      if (actionsOf(w, 'reassign').length > 0) w.unroutedMs = 0;
      else finishGap(w, options, unroutedSince);
    });
  }

  // 4. One number at a time: unassigns, moves that remove first, tracking numbers. Each is a unit
  // started only when the invocation can finish it; a move's two calls go back to back.
  for (const w of units) {
    if (!alive(w)) continue;
    const { unitCalls: calls, unroutes } = shapeOf(w, options);
    if (unroutes && !w.mustFinish && unroutedSince.size > 0) {
      // A number this invocation unrouted is not on its new target yet (its assignment failed):
      // RingCX is struggling, and that number's assignment comes first. No other is unrouted meanwhile.
      w.stopped = 'deferred';
      w.reason = 'a number this invocation unrouted is not on its new target yet; no other number is unrouted meanwhile; left for the next delivery';
      continue;
    }
    if (deadline && !w.mustFinish && !(unroutes ? deadline.fitsUnrouting(calls) : deadline.fits(calls))) {
      defer(w, deadline, calls, actionsOf(w, 'reassign').length > 0 ? 'this move' : 'this number', unroutes);
      continue;
    }
    await applyUnit(client, w, options, intents, unroutedSince, deadline);
  }
}
