import type { DesiredRow, Target } from '../../../../shared/domain/desiredRow';
import type { RingCxClient } from '../../../../shared/ringcx/client';
import { RingCxError } from '../../../../shared/ringcx/errors';
import type { AssignedDnis, DnisPool } from '../../../../shared/ringcx/schemas';

type Endpoint = 'findMany' | 'getAssignment' | 'createDnisPool' | 'updateDnisPool' | 'assign' | 'removeAssignment' | 'createTracNumber' | 'updateTracNumber';

/**
 * What a call does when a fault is armed for it: refuse before acting, act and lose the answer, or
 * fail from outside RingCX before sending (the credentials, the budget store), with a given error.
 */
export type Fault = { kind: 'before' | 'after'; status: number } | { kind: 'kill' } | { kind: 'throw'; error: Error };

/** The process is gone: no catch block in the engine handles this, exactly like a SIGKILL. */
export class Killed extends Error {}

export const http = (status: number, path = '/x') => new RingCxError({ kind: 'http', method: 'PUT', path, status });

/**
 * A RingCX tenant in memory behind the client methods the sync engine uses. Every call advances a
 * virtual clock by `callMs` (the instance's pace), so deadline tests run in no time. Faults are
 * armed per endpoint and per call number.
 */
export class FakeRingCx {
  readonly pool = new Map<string, { reservedAccountId: string; dnisDescription?: string | undefined }>();
  readonly assignments = new Map<string, Target & { tracId?: number }>();
  readonly calls: { endpoint: Endpoint; at: number; dnis: string[] }[] = [];
  /** Every moment a number was without an assignment, as [dnis, from, to] in virtual ms. */
  readonly unassignedSpans: { dnis: string; from: number; to: number | undefined }[] = [];
  clock = 0;
  private nextTracId = 700;
  private readonly faults: { endpoint: Endpoint; fault: Fault; remaining: number }[] = [];
  /** Runs just before each call: the place for "someone else changed the number meanwhile". */
  onCall: ((endpoint: Endpoint, count: number) => void) | undefined;
  killAfterCalls: number | undefined;
  /** A tenant where a PUT onto another destination moves the number (RINGCX_REASSIGN_MODE=direct). */
  movesOnPut = false;

  constructor(readonly callMs = 1_000) {}

  seed(dnis: string, target?: Target) {
    this.pool.set(dnis, { reservedAccountId: '99990001' });
    if (target) this.assignments.set(dnis, target);
  }

  arm(endpoint: Endpoint, fault: Fault, times = 1) {
    this.faults.push({ endpoint, fault, remaining: times });
  }

  count(endpoint: Endpoint): number {
    return this.calls.filter((c) => c.endpoint === endpoint).length;
  }

  remainingMs(budgetMs: number): () => number {
    return () => budgetMs - this.clock;
  }

  /** `worstCallMs`: the client's request timeout, the longest one call may take. */
  pace(worstCallMs?: number) {
    return { estimateWaitMs: (calls: number) => calls * this.callMs, latencyMs: () => 0, ...(worstCallMs !== undefined ? { worstLatencyMs: () => worstCallMs } : {}) };
  }

  get client(): RingCxClient {
    return this as unknown as RingCxClient;
  }

  /** How long the budget keeps a move waiting for its two turns (virtual ms). */
  reserveWaitMs = 0;

  /** How many turns each move reserved. */
  readonly reservations: number[] = [];
  /** The budget never gives a move its turns (another instance paused the tenant, say). */
  reserveHangs = false;

  /** The transport's limiter, as far as the engine uses it: a move reserves its two calls' turns. */
  get transport() {
    return {
      limiter: {
        reserve: async (calls: number) => {
          this.reservations.push(calls);
          if (this.reserveHangs) await new Promise(() => undefined);
          this.clock += this.reserveWaitMs;
        },
      },
    };
  }

  private async call<T>(endpoint: Endpoint, dnis: string[], act: () => T): Promise<T> {
    if (this.killAfterCalls !== undefined && this.calls.length >= this.killAfterCalls) throw new Killed('deadline kill');
    this.calls.push({ endpoint, at: this.clock, dnis });
    this.onCall?.(endpoint, this.calls.length);
    this.clock += this.callMs;
    const armed = this.faults.find((f) => f.endpoint === endpoint && f.remaining > 0);
    if (armed) armed.remaining -= 1;
    const fault = armed?.fault;
    if (fault?.kind === 'kill') throw new Killed('deadline kill');
    if (fault?.kind === 'throw') throw fault.error;
    if (fault?.kind === 'before') throw http(fault.status, `/${endpoint}`);
    const result = act();
    if (fault?.kind === 'after') throw http(fault.status, `/${endpoint}`);
    return result;
  }

  private setAssignment(dnis: string, target: (Target & { tracId?: number }) | undefined) {
    const had = this.assignments.has(dnis);
    if (target) {
      this.assignments.set(dnis, target);
      const open = this.unassignedSpans.find((s) => s.dnis === dnis && s.to === undefined);
      if (open) open.to = this.clock;
    } else {
      this.assignments.delete(dnis);
      if (had) this.unassignedSpans.push({ dnis, from: this.clock, to: undefined });
    }
  }

  private assignedJson(dnis: string): AssignedDnis | undefined {
    const a = this.assignments.get(dnis);
    if (!a) return undefined;
    switch (a.type) {
      case 'gate':
        return { dnis, isActive: true, gate: { gateId: a.id } };
      case 'visualIvr':
        return { dnis, isActive: true, visualIvr: { visualIvrId: a.id } };
      case 'cloudRouteProfile':
        return { dnis, isActive: true, cloudRouteProfile: { cloudProfileId: a.id } };
      case 'trackingGroup':
        return { dnis, isActive: true, tracNumber: { tracId: a.tracId ?? 1, tracGroupId: a.id } };
    }
  }

  findMany(dnisList: string[]): Promise<Map<string, DnisPool>> {
    return this.call('findMany', dnisList, () => {
      const found = new Map<string, DnisPool>();
      for (const dnis of dnisList) {
        const record = this.pool.get(dnis);
        if (record) found.set(dnis, { dnis, ...record, active: true, dnisCategory: 'VOICE', assignedDnis: this.assignedJson(dnis) ?? null, dnisState: this.assignments.has(dnis) ? 'ASSIGNED' : 'UNASSIGNED' });
      }
      return found;
    });
  }

  getAssignment(dnis: string) {
    return this.call('getAssignment', [dnis], () => this.assignedJson(dnis));
  }

  createDnisPool(records: { dnis: string; reservedAccountId?: string; dnisDescription?: string }[]) {
    return this.call('createDnisPool', records.map((r) => r.dnis), () => {
      if (records.some((r) => this.pool.has(r.dnis))) throw http(409, '/createDnisPool');
      for (const r of records) this.pool.set(r.dnis, { reservedAccountId: r.reservedAccountId ?? '99990001', dnisDescription: r.dnisDescription });
      return [];
    });
  }

  updateDnisPool(records: { dnis: string }[]) {
    return this.call('updateDnisPool', records.map((r) => r.dnis), () => []);
  }

  assign(type: 'gate' | 'visualIvr' | 'cloudRouteProfile', id: number, items: { dnis: string }[]) {
    return this.call('assign', items.map((i) => i.dnis), () => {
      for (const { dnis } of items) {
        const current = this.assignments.get(dnis);
        if (current && !(current.type === type && current.id === id) && !this.movesOnPut) throw http(409, '/assign');
      }
      for (const { dnis } of items) this.setAssignment(dnis, { type, id });
      return [];
    });
  }

  removeAssignment(dnis: string) {
    return this.call('removeAssignment', [dnis], () => {
      this.setAssignment(dnis, undefined);
      return true;
    });
  }

  createTracNumber(_accountId: string, tracGroupId: number, body: { assignedDnis?: { dnis: string } }) {
    const dnis = body.assignedDnis?.dnis ?? '';
    return this.call('createTracNumber', [dnis], () => {
      if (this.assignments.has(dnis)) throw http(409, '/createTracNumber');
      const tracId = this.nextTracId++;
      this.setAssignment(dnis, { type: 'trackingGroup', id: tracGroupId, tracId });
      return { tracId, tracGroupId };
    });
  }

  updateTracNumber(_accountId: string, tracGroupId: number, tracId: number, body: { assignedDnis?: { dnis: string } }) {
    const dnis = body.assignedDnis?.dnis ?? '';
    return this.call('updateTracNumber', [dnis], () => {
      this.setAssignment(dnis, { type: 'trackingGroup', id: tracGroupId, tracId });
      return { tracId, tracGroupId };
    });
  }
}

export function row(dnis: string, target: Target | null, extra: Partial<DesiredRow> = {}): DesiredRow {
  return {
    dnis,
    e164: `+${dnis}`,
    accountId: '99990001',
    category: 'VOICE',
    active: true,
    target,
    assignmentActive: true,
    onConflict: 'reassign',
    action: 'upsert',
    ...extra,
  };
}

export const queue = (id: number): Target => ({ type: 'gate', id });
