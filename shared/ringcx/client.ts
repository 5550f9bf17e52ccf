import { FormData } from 'undici';
import { z } from 'zod';
import { toWireDnis } from '../domain/phoneNumber';
import { isRingCxError } from './errors';
import {
  AccountSchema,
  type AssignedDnis,
  type AssignedDnisInput,
  AssignedDnisSchema,
  DnisBulkUpdateResponseSchema,
  type DnisPool,
  type DnisPoolInput,
  DnisPoolSchema,
  DnisListPreviewResponseSchema,
  DnisSearchResultSchema,
  type TracGroup,
  TracGroupSchema,
  type TracNumberInput,
  TracNumberSchema,
} from './schemas';
import { RingCxTransport, type TransportOptions } from './transport';
import {
  accountBase,
  ASSIGN_PATHS,
  BooleanResultSchema,
  type DnisListRequest,
  type PoolSearchCriteria,
  TN_MANAGER,
  type VoiceTargetType,
  withWireDnis,
  wireTracNumber,
} from './requests';

/**
 * Typed RingCX phone-number operations. Each method is one HTTP call (plus retries); higher-level
 * flows belong to the worker's planner, which decides how few calls it can make.
 */
export class RingCxClient {
  readonly transport: RingCxTransport;

  constructor(options: TransportOptions | RingCxTransport) {
    this.transport = options instanceof RingCxTransport ? options : new RingCxTransport(options);
  }

  // ---- DNIS pool and search ----

  /** POST searchDnis. `searchText` matches substrings server-side; use `findDnis` for one number. */
  searchDnis(request: DnisListRequest = {}) {
    return this.transport.send({
      endpoint: 'searchDnis',
      method: 'POST',
      path: `${TN_MANAGER}/searchDnis`,
      body: { kind: 'json', value: request },
      schema: DnisSearchResultSchema,
    });
  }

  /** Exactly one number, or undefined: a search for 12125550123 also returns 112125550123. */
  async findDnis(dnis: string, accountIds?: string[]): Promise<DnisPool | undefined> {
    const wire = toWireDnis(dnis);
    const result = await this.searchDnis({ searchText: wire, ...(accountIds ? { accountIds } : {}) });
    return result.records.find((record) => toWireDnis(record.dnis ?? record.dnisE164 ?? '') === wire);
  }

  /** POST search with `page` (zero-based) and `maxRows`. Returns pool records, assignments inline where RingCX includes them. */
  searchPools(criteria: PoolSearchCriteria, paging: { page?: number; maxRows?: number; count?: boolean } = {}) {
    return this.transport.send({
      endpoint: 'searchPools',
      method: 'POST',
      path: `${TN_MANAGER}/search`,
      query: { page: paging.page, maxRows: paging.maxRows, count: paging.count },
      body: { kind: 'json', value: criteria },
      schema: DnisSearchResultSchema,
    });
  }

  /** Exact-match lookup of many numbers in one call. Keys are wire digits. */
  async findMany(dnisList: string[], maxRows = 1000): Promise<Map<string, DnisPool>> {
    const wanted = new Set(dnisList.map(toWireDnis));
    const found = new Map<string, DnisPool>();
    if (wanted.size === 0) return found;
    for (let page = 0; ; page++) {
      const result = await this.searchPools({ dnis: [...wanted] }, { page, maxRows });
      for (const record of result.records) {
        const wire = toWireDnis(record.dnis ?? record.dnisE164 ?? '');
        if (wanted.has(wire)) found.set(wire, record);
      }
      const seen = (page + 1) * maxRows;
      if (result.records.length < maxRows || (result.total !== undefined && seen >= result.total)) break;
    }
    return found;
  }

  getDnisPool(dnis: string) {
    return this.transport.send({
      endpoint: 'getDnisPool',
      method: 'GET',
      path: `${TN_MANAGER}/dnisPool/${encodeURIComponent(toWireDnis(dnis))}`,
      schema: DnisPoolSchema,
    });
  }

  /** POST dnisPool: all records or none. */
  createDnisPool(records: DnisPoolInput[]) {
    return this.transport.send({
      endpoint: 'createDnisPool',
      repeatable: false,
      method: 'POST',
      path: `${TN_MANAGER}/dnisPool`,
      body: { kind: 'json', value: records.map(withWireDnis) },
      schema: z.array(DnisPoolSchema).nullish().transform((v) => v ?? []),
    });
  }

  updateDnisPool(records: DnisPoolInput[]) {
    return this.transport.send({
      endpoint: 'updateDnisPool',
      method: 'PUT',
      path: `${TN_MANAGER}/dnisPool`,
      body: { kind: 'json', value: records.map(withWireDnis) },
      schema: z.array(DnisPoolSchema).nullish().transform((v) => v ?? []),
    });
  }

  /** Multipart upload of a delimited file (part `file`, `fileType=COMMA`). */
  uploadDnisPool(csv: string | Uint8Array, options: { fileName?: string; quoteCharacter?: string } = {}) {
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), options.fileName ?? 'dnis_pool.csv');
    return this.transport.send({
      endpoint: 'uploadDnisPool',
      repeatable: false,
      method: 'POST',
      path: `${TN_MANAGER}/uploadDnisPool`,
      query: { fileType: 'COMMA', quoteCharacter: options.quoteCharacter },
      body: { kind: 'multipart', value: form },
      schema: DnisListPreviewResponseSchema,
    });
  }

  updateBulkDnisPool(records: DnisPoolInput[]) {
    return this.transport.send({
      endpoint: 'updateBulkDnisPool',
      method: 'PUT',
      path: `${TN_MANAGER}/updateBulkDnisPool`,
      body: { kind: 'json', value: records.map(withWireDnis) },
      schema: DnisBulkUpdateResponseSchema,
    });
  }

  // ---- voice assignments ----

  assign(targetType: VoiceTargetType, targetId: number, items: AssignedDnisInput[]) {
    return this.transport.send({
      endpoint: `assign.${targetType}`,
      method: 'PUT',
      path: `${TN_MANAGER}/assignedDnis/${ASSIGN_PATHS[targetType]}/${encodeURIComponent(String(targetId))}`,
      body: {
        kind: 'json',
        value: items.map((item) => ({
          dnis: toWireDnis(item.dnis),
          isActive: item.isActive,
          ...(item.dnisDescription !== undefined ? { dnisDescription: item.dnisDescription } : {}),
        })),
      },
      schema: z.array(AssignedDnisSchema).nullish().transform((v) => v ?? []),
    });
  }

  assignToGate(gateId: number, items: AssignedDnisInput[]) {
    return this.assign('gate', gateId, items);
  }

  assignToVisualIvr(visualIvrId: number, items: AssignedDnisInput[]) {
    return this.assign('visualIvr', visualIvrId, items);
  }

  assignToCloudRouteProfile(cloudRouteProfileId: number, items: AssignedDnisInput[]) {
    return this.assign('cloudRouteProfile', cloudRouteProfileId, items);
  }

  getAssignmentRaw(dnis: string) {
    return this.transport.send({
      endpoint: 'getAssignment',
      method: 'GET',
      path: `${TN_MANAGER}/assignedDnis/${encodeURIComponent(toWireDnis(dnis))}`,
      schema: AssignedDnisSchema.nullish(),
    });
  }

  /** The current assignment, or undefined when the number has none (RingCX answers 404). */
  async getAssignment(dnis: string): Promise<AssignedDnis | undefined> {
    try {
      return (await this.getAssignmentRaw(dnis)) ?? undefined;
    } catch (error) {
      if (isRingCxError(error) && error.status === 404) return undefined;
      throw error;
    }
  }

  removeAssignment(dnis: string) {
    return this.transport.send({
      endpoint: 'removeAssignment',
      method: 'DELETE',
      path: `${TN_MANAGER}/assignedDnis/${encodeURIComponent(toWireDnis(dnis))}`,
      schema: BooleanResultSchema,
    });
  }

  // ---- tracking numbers ----

  listTracGroupsWithChildren(accountId: string): Promise<TracGroup[]> {
    return this.transport.send({
      endpoint: 'listTracGroups',
      method: 'GET',
      path: `${accountBase(accountId)}/tracGroups/withChildren`,
      schema: z.array(TracGroupSchema).nullish().transform((v) => v ?? []),
    });
  }

  getTracGroup(accountId: string, tracGroupId: number) {
    return this.transport.send({
      endpoint: 'getTracGroup',
      method: 'GET',
      path: `${accountBase(accountId)}/tracGroups/${tracGroupId}`,
      schema: TracGroupSchema,
    });
  }

  updateTracGroup(accountId: string, tracGroupId: number, group: Partial<TracGroup>) {
    return this.transport.send({
      endpoint: 'updateTracGroup',
      method: 'PUT',
      path: `${accountBase(accountId)}/tracGroups/${tracGroupId}`,
      body: { kind: 'json', value: group },
      schema: TracGroupSchema,
    });
  }

  listTracNumbers(accountId: string, tracGroupId: number) {
    return this.transport.send({
      endpoint: 'listTracNumbers',
      method: 'GET',
      path: `${accountBase(accountId)}/tracGroups/${tracGroupId}/tracNumbers`,
      schema: z.array(TracNumberSchema).nullish().transform((v) => v ?? []),
    });
  }

  createTracNumber(accountId: string, tracGroupId: number, tracNumber: TracNumberInput) {
    return this.transport.send({
      endpoint: 'createTracNumber',
      repeatable: false,
      method: 'POST',
      path: `${accountBase(accountId)}/tracGroups/${tracGroupId}/tracNumbers`,
      body: { kind: 'json', value: wireTracNumber(tracNumber) },
      schema: TracNumberSchema,
    });
  }

  updateTracNumber(accountId: string, tracGroupId: number, tracId: number, tracNumber: TracNumberInput) {
    return this.transport.send({
      endpoint: 'updateTracNumber',
      method: 'PUT',
      path: `${accountBase(accountId)}/tracGroups/${tracGroupId}/tracNumbers/${tracId}`,
      body: { kind: 'json', value: wireTracNumber(tracNumber) },
      schema: TracNumberSchema,
    });
  }

  listAccounts() {
    return this.transport.send({
      endpoint: 'listAccounts',
      method: 'GET',
      path: `${TN_MANAGER}/accounts`,
      schema: z.array(AccountSchema).nullish().transform((v) => v ?? []),
    });
  }
}
