import { accessDenied, badRequest, conflict, notFound } from './errors';
import type { TenantSeed } from './fixtures';

export type TargetType = 'gate' | 'visualIvr' | 'cloudRouteProfile' | 'tracNumber';

export interface PoolRecord {
  dnis: string;
  reservedAccountId: string;
  dnisDescription: string | null;
  dnisCategory: string;
  notes: string | null;
  active: boolean;
  dateCreated: string;
  lastModified: string;
}

export interface Assignment {
  type: TargetType;
  id: number;
  isActive: boolean;
  dnisDescription: string | null;
  startDate: string;
}

export interface TracNumberRecord {
  tracId: number;
  tracGroupId: number;
  accountId: string;
  description: string | null;
  dnis: string | null;
}

/** A change to routing, kept so tests can count moves and duplicate creates. */
export interface StateEvent {
  at: number;
  kind: 'create' | 'duplicate-create' | 'update' | 'assign' | 'move' | 'unassign';
  dnis: string;
  before?: { type: TargetType; id: number } | undefined;
  after?: { type: TargetType; id: number } | undefined;
}

export interface Principal {
  id: string;
  accounts: string[] | '*';
  deniedProducts: string[];
}

export type ConflictMode = 'conflict' | 'move';

const PRODUCT: Record<TargetType, string> = {
  gate: 'ACD',
  visualIvr: 'VISUAL_IVR',
  cloudRouteProfile: 'CLOUD_PROFILE',
  tracNumber: 'TRAC_NUMBER',
};

/** RingCX date format: ISO-8601 with a colon-less offset. */
export function ringCxDate(ms = Date.now()): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

export function isValidWireDnis(dnis: unknown): dnis is string {
  return typeof dnis === 'string' && /^[1-9]\d{9,14}$/.test(dnis);
}

/**
 * The tenant's phone-number inventory: one pool row per DNIS and at most one voice assignment per
 * DNIS (RingCX's tbl_acd_dnis_pool / tbl_acd_gate_dnis), plus destinations and tracking numbers.
 */
/**
 * A Map that counts its changes, so an ordering built from its keys is rebuilt only after one
 * (tests change the pool directly, with set and delete, as well as through the routes).
 */
export class VersionedMap<K, V> extends Map<K, V> {
  version = 0;

  override set(key: K, value: V): this {
    this.version += 1;
    return super.set(key, value);
  }

  override delete(key: K): boolean {
    this.version += 1;
    return super.delete(key);
  }

  override clear(): void {
    this.version += 1;
    super.clear();
  }
}

export class TenantState {
  readonly pool = new VersionedMap<string, PoolRecord>();
  /** The pool in number order, as searches return it; rebuilt when the pool's keys change, not per page. */
  private sorted: { version: number; records: PoolRecord[] } | undefined;
  readonly assignments = new Map<string, Assignment>();
  readonly tracNumbers = new Map<number, TracNumberRecord>();
  readonly events: StateEvent[] = [];
  private nextTracId = 10_001;

  constructor(readonly seed: TenantSeed) {
    this.addSeeded(seed.pool ?? []);
  }

  /** Seed-shaped records straight into the pool (the seed itself, the admin bulk route): no validation, no events. */
  addSeeded(records: NonNullable<TenantSeed['pool']>): void {
    // One timestamp for the lot: a 250,000-number tenant starts in a fraction of a second.
    const seededAt = ringCxDate();
    for (const record of records) {
      this.pool.set(record.dnis, {
        dnis: record.dnis,
        reservedAccountId: record.reservedAccountId,
        dnisDescription: record.dnisDescription ?? null,
        dnisCategory: record.dnisCategory ?? 'VOICE',
        notes: record.notes ?? null,
        active: record.active ?? true,
        dateCreated: seededAt,
        lastModified: seededAt,
      });
      if (record.assignment) {
        this.assignments.set(record.dnis, {
          type: record.assignment.type,
          id: record.assignment.id,
          isActive: record.assignment.isActive ?? true,
          dnisDescription: record.assignment.dnisDescription ?? record.dnisDescription ?? null,
          startDate: seededAt,
        });
      }
    }
  }

  // ---- permissions ----

  canAccess(principal: Principal, accountId: string): boolean {
    return principal.accounts === '*' || principal.accounts.includes(accountId);
  }

  requireAccount(principal: Principal, accountId: string): void {
    if (!this.seed.accounts.some((a) => a.accountId === accountId)) {
      throw notFound(`Account ${accountId} does not exist`);
    }
    if (!this.canAccess(principal, accountId)) throw accessDenied();
  }

  // ---- destinations ----

  target(type: TargetType, id: number): { accountId: string; name: string } | undefined {
    switch (type) {
      case 'gate': {
        const gate = this.seed.gates.find((g) => g.gateId === id);
        return gate && { accountId: gate.accountId, name: gate.gateName };
      }
      case 'visualIvr': {
        const ivr = this.seed.visualIvrs.find((v) => v.visualIvrId === id);
        return ivr && { accountId: ivr.accountId, name: ivr.visualIvrName };
      }
      case 'cloudRouteProfile': {
        const crp = this.seed.cloudRouteProfiles.find((c) => c.cloudProfileId === id);
        return crp && { accountId: crp.accountId, name: crp.profileName };
      }
      case 'tracNumber': {
        const trac = this.tracNumbers.get(id);
        const group = trac && this.seed.tracGroups.find((g) => g.tracGroupId === trac.tracGroupId);
        return trac && { accountId: trac.accountId, name: trac.description ?? group?.groupName ?? '' };
      }
    }
  }

  requireTarget(principal: Principal, type: TargetType, id: number) {
    const target = this.target(type, id);
    if (!target) throw notFound(`${type} ${id} does not exist`);
    if (!this.canAccess(principal, target.accountId) || principal.deniedProducts.includes(PRODUCT[type])) {
      throw accessDenied();
    }
    return target;
  }

  // ---- pool ----

  /** The principal's records in number order. */
  visibleRecords(principal: Principal): PoolRecord[] {
    return this.sortedRecords().filter((r) => this.canAccess(principal, r.reservedAccountId));
  }

  /**
   * Every record in number order (code-unit order, which for digit strings is numeric-prefix order,
   * as RingCX sorts), sorted once per change of the pool's keys instead of once per search page.
   * Records are changed in place, so the cached order stays valid while only their fields change.
   */
  sortedRecords(): PoolRecord[] {
    if (this.sorted?.version !== this.pool.version) {
      const keys = [...this.pool.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      this.sorted = { version: this.pool.version, records: keys.map((key) => this.pool.get(key) as PoolRecord) };
    }
    return this.sorted.records;
  }

  requireRecord(principal: Principal, dnis: string): PoolRecord {
    if (!isValidWireDnis(dnis)) throw badRequest(`Invalid DNIS: ${dnis}`, 'dnis', dnis);
    const record = this.pool.get(dnis);
    if (!record) throw notFound(`DNIS ${dnis} does not exist in the pool`);
    if (!this.canAccess(principal, record.reservedAccountId)) throw accessDenied();
    return record;
  }

  /** All or nothing: every record is validated before any is stored. */
  createRecords(principal: Principal, inputs: unknown[]): PoolRecord[] {
    const seen = new Set<string>();
    const now = ringCxDate();
    const records = inputs.map((input, index) => {
      const item = asObject(input, `[${index}]`);
      const dnis = item.dnis;
      if (!isValidWireDnis(dnis)) throw badRequest(`Invalid DNIS format: ${String(dnis)}`, 'dnis', dnis);
      const accountId = String(item.reservedAccountId ?? '');
      if (!accountId) throw badRequest('reservedAccountId is required', 'reservedAccountId');
      this.requireAccount(principal, accountId);
      if (seen.has(dnis)) throw conflict(`DNIS ${dnis} is duplicated in the request`);
      seen.add(dnis);
      if (this.pool.has(dnis)) {
        this.events.push({ at: Date.now(), kind: 'duplicate-create', dnis });
        throw conflict(`DNIS ${dnis} already exists in the pool`);
      }
      return {
        dnis,
        reservedAccountId: accountId,
        dnisDescription: optionalString(item.dnisDescription),
        dnisCategory: optionalString(item.dnisCategory) ?? 'VOICE',
        notes: optionalString(item.notes),
        active: item.active === undefined ? true : item.active === true,
        dateCreated: now,
        lastModified: now,
      } satisfies PoolRecord;
    });
    for (const record of records) {
      this.pool.set(record.dnis, record);
      this.events.push({ at: Date.now(), kind: 'create', dnis: record.dnis });
    }
    return records;
  }

  updateRecords(principal: Principal, inputs: unknown[], options: { skipUnknown?: boolean } = {}): PoolRecord[] {
    const changes: [PoolRecord, Partial<PoolRecord>][] = [];
    inputs.forEach((input, index) => {
      const item = asObject(input, `[${index}]`);
      const dnis = String(item.dnis ?? '');
      if (options.skipUnknown && isValidWireDnis(dnis) && !this.pool.has(dnis)) return;
      const record = this.requireRecord(principal, dnis);
      const patch: Partial<PoolRecord> = {};
      if ('dnisDescription' in item) patch.dnisDescription = optionalString(item.dnisDescription);
      if ('dnisCategory' in item && item.dnisCategory) patch.dnisCategory = String(item.dnisCategory);
      if ('notes' in item) patch.notes = optionalString(item.notes);
      if ('active' in item && typeof item.active === 'boolean') patch.active = item.active;
      if ('reservedAccountId' in item && item.reservedAccountId) {
        const accountId = String(item.reservedAccountId);
        this.requireAccount(principal, accountId);
        patch.reservedAccountId = accountId;
      }
      changes.push([record, patch]);
    });
    const now = ringCxDate();
    return changes.map(([record, patch]) => {
      Object.assign(record, patch, { lastModified: now });
      this.events.push({ at: Date.now(), kind: 'update', dnis: record.dnis });
      return record;
    });
  }

  // ---- assignments ----

  /** Upsert of the listed numbers onto one destination; numbers not listed are left alone. All or nothing. */
  assign(principal: Principal, type: TargetType, id: number, inputs: unknown[], mode: ConflictMode): Assignment[] {
    this.requireTarget(principal, type, id);
    const seen = new Set<string>();
    const planned = inputs.map((input, index) => {
      const item = asObject(input, `[${index}]`);
      const dnis = String(item.dnis ?? '');
      this.requireRecord(principal, dnis);
      if (seen.has(dnis)) throw conflict(`DNIS ${dnis} is duplicated in the request`);
      seen.add(dnis);
      const current = this.assignments.get(dnis);
      const elsewhere = current && (current.type !== type || current.id !== id);
      if (elsewhere && mode === 'conflict') {
        throw conflict(`DNIS ${dnis} is already assigned to ${current.type} ${current.id}`);
      }
      return { dnis, item, current };
    });
    const now = ringCxDate();
    return planned.map(({ dnis, item, current }) => {
      const next: Assignment = {
        type,
        id,
        isActive: item.isActive === undefined ? true : item.isActive === true,
        dnisDescription: optionalString(item.dnisDescription) ?? current?.dnisDescription ?? null,
        startDate: current && current.type === type && current.id === id ? current.startDate : now,
      };
      this.assignments.set(dnis, next);
      const moved = current && (current.type !== type || current.id !== id);
      if (moved && current.type === 'tracNumber') this.detachTrac(current.id);
      this.events.push({
        at: Date.now(),
        kind: moved ? 'move' : 'assign',
        dnis,
        before: current && { type: current.type, id: current.id },
        after: { type, id },
      });
      return next;
    });
  }

  unassign(principal: Principal, dnis: string): boolean {
    this.requireRecord(principal, dnis);
    const current = this.assignments.get(dnis);
    if (!current) return false;
    this.requireTarget(principal, current.type, current.id);
    this.assignments.delete(dnis);
    if (current.type === 'tracNumber') this.detachTrac(current.id);
    this.events.push({ at: Date.now(), kind: 'unassign', dnis, before: { type: current.type, id: current.id } });
    return true;
  }

  private detachTrac(tracId: number): void {
    const trac = this.tracNumbers.get(tracId);
    if (trac) trac.dnis = null;
  }

  // ---- tracking numbers ----

  createTracNumber(principal: Principal, accountId: string, tracGroupId: number, body: Record<string, unknown>, mode: ConflictMode): TracNumberRecord {
    this.requireTracGroup(principal, accountId, tracGroupId);
    if (principal.deniedProducts.includes('TRAC_NUMBER')) throw accessDenied();
    const dnis = dnisOfTracBody(body);
    if (dnis !== undefined) this.checkTracDnis(principal, dnis, undefined, mode);
    const trac: TracNumberRecord = {
      tracId: this.nextTracId++,
      tracGroupId,
      accountId,
      description: optionalString(body.description),
      dnis: null,
    };
    this.tracNumbers.set(trac.tracId, trac);
    if (dnis !== undefined) this.attachTrac(trac, dnis, body);
    return trac;
  }

  updateTracNumber(principal: Principal, accountId: string, tracGroupId: number, tracId: number, body: Record<string, unknown>, mode: ConflictMode): TracNumberRecord {
    this.requireTracGroup(principal, accountId, tracGroupId);
    const trac = this.tracNumbers.get(tracId);
    if (!trac || trac.tracGroupId !== tracGroupId) throw notFound(`Tracking number ${tracId} does not exist`);
    const dnis = dnisOfTracBody(body);
    if (dnis !== undefined) this.checkTracDnis(principal, dnis, tracId, mode);
    if ('description' in body) trac.description = optionalString(body.description);
    if (dnis !== undefined && dnis !== trac.dnis) {
      if (trac.dnis) {
        this.assignments.delete(trac.dnis);
        this.events.push({ at: Date.now(), kind: 'unassign', dnis: trac.dnis, before: { type: 'tracNumber', id: tracId } });
      }
      this.attachTrac(trac, dnis, body);
    }
    return trac;
  }

  requireTracGroup(principal: Principal, accountId: string, tracGroupId: number) {
    this.requireAccount(principal, accountId);
    const group = this.seed.tracGroups.find((g) => g.tracGroupId === tracGroupId && g.accountId === accountId);
    if (!group) throw notFound(`Tracking group ${tracGroupId} does not exist`);
    return group;
  }

  private checkTracDnis(principal: Principal, dnis: string, tracId: number | undefined, mode: ConflictMode) {
    this.requireRecord(principal, dnis);
    const current = this.assignments.get(dnis);
    const elsewhere = current && !(current.type === 'tracNumber' && current.id === tracId);
    if (elsewhere && mode === 'conflict') {
      throw conflict(`DNIS ${dnis} is already assigned to ${current.type} ${current.id}`);
    }
  }

  private attachTrac(trac: TracNumberRecord, dnis: string, body: Record<string, unknown>) {
    const current = this.assignments.get(dnis);
    const assigned = asObject(body.assignedDnis ?? {}, 'assignedDnis');
    if (current?.type === 'tracNumber') this.detachTrac(current.id);
    this.assignments.set(dnis, {
      type: 'tracNumber',
      id: trac.tracId,
      isActive: assigned.isActive === undefined ? true : assigned.isActive === true,
      dnisDescription: optionalString(assigned.dnisDescription) ?? trac.description,
      startDate: ringCxDate(),
    });
    trac.dnis = dnis;
    const moved = current !== undefined;
    this.events.push({
      at: Date.now(),
      kind: moved ? 'move' : 'assign',
      dnis,
      before: current && { type: current.type, id: current.id },
      after: { type: 'tracNumber', id: trac.tracId },
    });
  }

  // ---- serialisation (RingCX field names) ----

  assignmentJson(dnis: string, assignment: Assignment) {
    const target = this.target(assignment.type, assignment.id);
    const accountId = target?.accountId;
    const base = {
      dnis,
      dnisE164: `+${dnis}`,
      dnisDescription: assignment.dnisDescription,
      isActive: assignment.isActive,
      startDate: assignment.startDate,
      endDate: null,
    };
    switch (assignment.type) {
      case 'gate': {
        const gate = this.seed.gates.find((g) => g.gateId === assignment.id);
        return { ...base, gate: { accountId, gateId: assignment.id, gateName: target?.name, gateGroupId: gate?.gateGroupId, isActive: true } };
      }
      case 'visualIvr':
        return { ...base, visualIvr: { accountId, visualIvrId: assignment.id, visualIvrName: target?.name, isActive: true } };
      case 'cloudRouteProfile':
        return { ...base, cloudRouteProfile: { accountId, cloudProfileId: assignment.id, profileName: target?.name, isActive: true } };
      case 'tracNumber': {
        const trac = this.tracNumbers.get(assignment.id);
        return { ...base, tracNumber: { accountId, tracId: assignment.id, tracGroupId: trac?.tracGroupId, description: trac?.description } };
      }
    }
  }

  poolJson(record: PoolRecord, options: { inlineAssignment: boolean }) {
    const assignment = this.assignments.get(record.dnis);
    return {
      dnis: record.dnis,
      dnisE164: `+${record.dnis}`,
      reservedAccountId: record.reservedAccountId,
      dnisDescription: record.dnisDescription,
      dnisCategory: record.dnisCategory,
      notes: record.notes,
      active: record.active,
      dnisState: assignment ? 'ASSIGNED' : 'UNASSIGNED',
      dateCreated: record.dateCreated,
      lastModified: record.lastModified,
      ...(options.inlineAssignment && assignment ? { assignedDnis: this.assignmentJson(record.dnis, assignment) } : {}),
    };
  }

  tracNumberJson(trac: TracNumberRecord) {
    const assignment = trac.dnis ? this.assignments.get(trac.dnis) : undefined;
    const group = this.seed.tracGroups.find((g) => g.tracGroupId === trac.tracGroupId);
    return {
      tracId: trac.tracId,
      accountId: trac.accountId,
      description: trac.description,
      tracGroup: { tracGroupId: trac.tracGroupId, groupName: group?.groupName },
      assignedDnis: trac.dnis && assignment ? this.assignmentJson(trac.dnis, assignment) : null,
      permissions: ['READ', 'UPDATE'],
    };
  }

  /** A plain snapshot for the admin endpoint and for tests. */
  snapshot() {
    return {
      pool: [...this.pool.values()].map((record) => ({
        ...record,
        assignment: this.assignments.get(record.dnis) ?? null,
      })),
      tracNumbers: [...this.tracNumbers.values()],
      events: this.events.length,
    };
  }
}

function asObject(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest(`${where} must be an object`);
  }
  return value as Record<string, unknown>;
}

function optionalString(value: unknown): string | null {
  return value === undefined || value === null ? null : String(value);
}

function dnisOfTracBody(body: Record<string, unknown>): string | undefined {
  const assigned = body.assignedDnis;
  if (!assigned || typeof assigned !== 'object') return undefined;
  const dnis = (assigned as Record<string, unknown>).dnis;
  return dnis === undefined || dnis === null ? undefined : String(dnis);
}
