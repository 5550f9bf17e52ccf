import { describe, expect, it } from 'vitest';
import type { DesiredRow } from '../../../shared/domain/desiredRow';
import { type MaintenanceWindow, msUntilOpen, parseMaintenanceWindow, routingChange } from '../../../shared/domain/maintenanceWindow';
import type { CurrentState } from '../../../shared/domain/planner';

const window = (w: Partial<MaintenanceWindow>): MaintenanceWindow => ({ timeZone: 'UTC', days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], start: '01:00', end: '05:00', ...w });
const at = (iso: string) => new Date(iso);
const HOUR = 3_600_000;

describe('msUntilOpen', () => {
  it('is 0 inside the window and the wait outside it', () => {
    expect(msUntilOpen(window({}), at('2026-11-28T02:00:00Z'))).toBe(0);
    expect(msUntilOpen(window({}), at('2026-11-28T00:30:00Z'))).toBe(HOUR / 2);
    expect(msUntilOpen(window({}), at('2026-11-28T05:00:00Z'))).toBe(20 * HOUR);
    expect(msUntilOpen(window({}), at('2026-11-28T00:59:59.250Z'))).toBe(750);
  });

  it('honours the days (2026-11-28 is a Saturday)', () => {
    expect(msUntilOpen(window({ days: ['mon'] }), at('2026-11-28T02:00:00Z'))).toBe(47 * HOUR);
    expect(msUntilOpen(window({ days: ['sat'] }), at('2026-11-28T02:00:00Z'))).toBe(0);
  });

  it('runs past midnight when the end is before the start, counting from the start day', () => {
    const overnight = window({ start: '22:00', end: '02:00', days: ['fri'] });
    expect(msUntilOpen(overnight, at('2026-11-27T23:00:00Z'))).toBe(0);
    expect(msUntilOpen(overnight, at('2026-11-28T01:00:00Z'))).toBe(0);
    expect(msUntilOpen(overnight, at('2026-11-28T03:00:00Z'))).toBeGreaterThan(6 * 24 * HOUR);
  });

  it('reads local time in the window time zone', () => {
    // 06:30 UTC is 01:30 in New York (EST) on 2026-11-28.
    expect(msUntilOpen(window({ timeZone: 'America/New_York' }), at('2026-11-28T06:30:00Z'))).toBe(0);
    expect(msUntilOpen(window({ timeZone: 'America/New_York' }), at('2026-11-28T02:00:00Z'))).toBe(4 * HOUR);
  });

  it('refuses a malformed window with the field named', () => {
    expect(() => parseMaintenanceWindow('{"timeZone":"Mars/Olympus","start":"25:00","end":"05:00"}')).toThrow(/timeZone is not an IANA time zone; start must be HH:MM/);
    expect(parseMaintenanceWindow(undefined)).toBeUndefined();
  });
});

describe('routingChange', () => {
  const desired = (overrides: Partial<DesiredRow> = {}): DesiredRow => ({
    dnis: '12125550100',
    e164: '+12125550100',
    accountId: '99990001',
    category: 'VOICE',
    active: true,
    target: { type: 'gate', id: 4501 },
    assignmentActive: true,
    onConflict: 'reassign',
    action: 'upsert',
    ...overrides,
  });
  const pool = { accountId: '99990001', description: 'Live', category: 'VOICE', notes: undefined, active: true };
  const live: CurrentState = { pool, assignment: { target: { type: 'gate', id: 4501 }, isActive: true, description: 'Live' } };
  const idle: CurrentState = { pool, assignment: null };

  it('names every change that stops or moves calls routing now', () => {
    expect(routingChange(live, desired({ target: { type: 'gate', id: 4503 } }))).toBe('move');
    expect(routingChange(live, desired({ accountId: '99990002' }))).toBe('move');
    expect(routingChange(live, desired({ action: 'unassign', target: null }))).toBe('unassign');
    expect(routingChange(live, desired({ assignmentActive: false }))).toBe('deactivate');
    expect(routingChange(live, desired({ active: false }))).toBe('deactivate-pool');
  });

  it('lets through what keeps routing as it is, and anything on a number that routes nothing', () => {
    expect(routingChange(live, desired())).toBeUndefined();
    expect(routingChange(live, desired({ assignmentDescription: 'Renamed' }))).toBeUndefined();
    expect(routingChange({ ...live, assignment: { ...live.assignment!, isActive: false } }, desired({ assignmentActive: false }))).toBeUndefined();
    expect(routingChange(live, desired({ action: 'unassign', target: { type: 'gate', id: 4502 } }))).toBeUndefined();
    expect(routingChange(idle, desired({ active: false, assignmentActive: false }))).toBeUndefined();
    expect(routingChange({ pool: undefined, assignment: null }, desired())).toBeUndefined();
  });
});
