import { z } from 'zod';
import type { DesiredRow } from './desiredRow';
import { type CurrentState, sameTarget } from './planner';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

/**
 * When live numbers may be moved: local days and hours in a time zone, e.g.
 * `{"timeZone":"America/New_York","days":["sat","sun"],"start":"01:00","end":"05:00"}`.
 * A window whose end is before its start runs past midnight.
 */
export const MaintenanceWindowSchema = z.object({
  timeZone: z.string().refine((zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'is not an IANA time zone'),
  days: z.array(z.enum(DAYS)).min(1).default([...DAYS]),
  start: z.string().regex(TIME, 'must be HH:MM or HH:MM:SS'),
  end: z.string().regex(TIME, 'must be HH:MM or HH:MM:SS'),
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindowSchema>;

const seconds = (time: string) => {
  const [, h, m, s] = TIME.exec(time) as RegExpExecArray;
  return Number(h) * 3600 + Number(m) * 60 + Number(s ?? 0);
};

function localClock(zone: string, at: Date): { day: number; secondOfDay: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '0';
  const day = DAYS.indexOf(get('weekday').toLowerCase().slice(0, 3) as (typeof DAYS)[number]);
  return { day, secondOfDay: Number(get('hour')) * 3600 + Number(get('minute')) * 60 + Number(get('second')) };
}

/**
 * 0 while the window is open; otherwise how long until it opens, in ms. Pure. Around a DST change
 * the answer may be off by the shift; callers re-check when they wake, so a move never happens
 * outside the window.
 */
export function msUntilOpen(window: MaintenanceWindow, at: Date): number {
  const { day, secondOfDay } = localClock(window.timeZone, at);
  const start = seconds(window.start);
  const end = seconds(window.end);
  const allowed = (d: number) => window.days.includes(DAYS[((d % 7) + 7) % 7] as (typeof DAYS)[number]);
  const open =
    start <= end
      ? allowed(day) && secondOfDay >= start && secondOfDay < end
      : (allowed(day) && secondOfDay >= start) || (allowed(day - 1) && secondOfDay < end);
  if (open) return 0;
  for (let ahead = 0; ahead <= 7; ahead++) {
    if (!allowed(day + ahead)) continue;
    const wait = ahead * 86_400 + start - secondOfDay;
    // The local clock is read to the second; the window opens at the start of `start`'s second,
    // so the part of the current second already gone comes off the wait (no wake-up a second late).
    if (wait > 0) return wait * 1000 - at.getUTCMilliseconds();
  }
  return 7 * 86_400 * 1000;
}

export function parseMaintenanceWindow(json: string | undefined): MaintenanceWindow | undefined {
  if (!json) return undefined;
  const parsed = MaintenanceWindowSchema.safeParse(JSON.parse(json));
  if (!parsed.success) throw new Error(`MAINTENANCE_WINDOW: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** A change that stops or moves live routing, which only happens inside the maintenance window. */
export type RoutingChange = 'move' | 'unassign' | 'deactivate' | 'deactivate-pool';

/**
 * Whether bringing `current` to `desired` would stop or move calls that route now: moving an
 * assigned number, removing its assignment, setting its assignment `isActive: false`, or setting
 * the pool record `active: false` while it is assigned. Pure; undefined for anything else
 * (assigning an idle number, descriptions).
 */
export function routingChange(current: CurrentState, desired: DesiredRow): RoutingChange | undefined {
  const assignment = current.assignment;
  if (!current.pool || !assignment) return undefined;
  if (desired.action === 'unassign') return !desired.target || sameTarget(desired.target, assignment.target) ? 'unassign' : undefined;
  if (desired.target && !sameTarget(desired.target, assignment.target)) return 'move';
  if (desired.accountId !== (current.pool.accountId ?? desired.accountId)) return 'move';
  if (desired.target && desired.assignmentActive === false && assignment.isActive !== false) return 'deactivate';
  if (desired.active === false && current.pool.active !== false) return 'deactivate-pool';
  return undefined;
}
