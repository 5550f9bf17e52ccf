import { parse } from 'csv-parse/sync';
import { badRequest, conflict } from '../errors';
import { cappedArray } from '../arrayCap';
import type { Route, RouteContext } from '../route';
import { isValidWireDnis, type PoolRecord } from '../state';

const TN = '/voice/api/v1/admin/utilities/tnManager';

function asArray(ctx: RouteContext): unknown[] {
  const body = ctx.json();
  if (!Array.isArray(body)) throw badRequest('Request body must be a JSON array');
  return cappedArray(ctx, body);
}

/** Both documented result shapes: the guide's flat list, or the spec's per-account `entries`. */
function searchResult(ctx: RouteContext, records: PoolRecord[], total: number, inlineAssignment: boolean) {
  const json = records.map((r) => ctx.sim.state.poolJson(r, { inlineAssignment }));
  if (ctx.sim.knobs.searchShape === 'guide') return { records: json, totalElements: total };
  const entries: Record<string, { name: string; records: unknown[] }> = {};
  for (const record of json) {
    const { reservedAccountId, ...rest } = record;
    const name = ctx.sim.seed.accounts.find((a) => a.accountId === reservedAccountId)?.accountName ?? '';
    (entries[reservedAccountId] ??= { name, records: [] }).records.push(rest);
  }
  return { entries, totalCount: total };
}

function accountFilter(ids: unknown): ((r: PoolRecord) => boolean) {
  if (!Array.isArray(ids) || ids.length === 0) return () => true;
  const set = new Set(ids.map(String));
  return (r) => set.has(r.reservedAccountId);
}

/** Minimal multipart/form-data reader: returns the named part's bytes. */
function multipartPart(ctx: RouteContext, name: string): Buffer | undefined {
  const type = ctx.req.headers['content-type'] ?? '';
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  if (!type.startsWith('multipart/form-data') || !boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let start = ctx.body.indexOf(delimiter);
  while (start !== -1) {
    const next = ctx.body.indexOf(delimiter, start + delimiter.length);
    if (next === -1) break;
    const part = ctx.body.subarray(start + delimiter.length + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, headerEnd).toString('utf8');
    if (new RegExp(`name="${name}"`).test(headers)) return part.subarray(headerEnd + 4);
    start = next;
  }
  return undefined;
}

export const poolRoutes: Route[] = [
  {
    method: 'POST',
    pattern: new RegExp(`^${TN}/searchDnis$`),
    name: 'searchDnis',
    kind: 'api',
    handle(ctx) {
      const body = (ctx.json() ?? {}) as { searchText?: unknown; accountIds?: unknown; dnisState?: unknown };
      const text = body.searchText === undefined ? '' : String(body.searchText).replace(/^\+/, '');
      const inAccounts = accountFilter(body.accountIds);
      // RingCX matches searchText as a substring: callers must pick the exact number out themselves.
      const records = ctx.sim.state
        .visibleRecords(ctx.principal)
        .filter((r) => inAccounts(r) && r.dnis.includes(text))
        .filter((r) => !body.dnisState || (ctx.sim.state.assignments.has(r.dnis) ? 'ASSIGNED' : 'UNASSIGNED') === body.dnisState);
      return { json: searchResult(ctx, records, records.length, false) };
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${TN}/search$`),
    name: 'searchPools',
    kind: 'api',
    handle(ctx) {
      const criteria = (ctx.json() ?? {}) as Record<string, unknown>;
      const page = Number(ctx.query.get('page') ?? 0);
      const maxRows = Math.min(Number(ctx.query.get('maxRows') ?? 50), ctx.sim.knobs.maxRows);
      if (!Number.isInteger(page) || page < 0 || !Number.isInteger(maxRows) || maxRows < 1) {
        throw badRequest('page must be >= 0 and maxRows >= 1');
      }
      const wanted = Array.isArray(criteria.dnis) ? new Set(criteria.dnis.map((d) => String(d).replace(/^\+/, ''))) : undefined;
      const inAccounts = accountFilter(criteria.accountIds ?? (criteria.accountId ? [criteria.accountId] : undefined));
      const filter = typeof criteria.dnisFilter === 'string' ? criteria.dnisFilter : undefined;
      const { state } = ctx.sim;
      const matches = (r: PoolRecord) =>
        inAccounts(r) &&
        (!wanted || wanted.has(r.dnis)) &&
        (!filter || r.dnis.includes(filter)) &&
        (typeof criteria.active !== 'boolean' || r.active === criteria.active) &&
        (typeof criteria.assigned !== 'boolean' || state.assignments.has(r.dnis) === criteria.assigned);
      // One pass over the pool in number order: the total counted, only the page's records kept,
      // so a 250,000-number tenant pages in milliseconds.
      const first = page * maxRows;
      const pageRecords: PoolRecord[] = [];
      let total = 0;
      const counting = ctx.query.get('count') === 'true';
      // visibleRecords is the one read of the pool per search (tests hook it to change RingCX mid-request).
      for (const record of state.visibleRecords(ctx.principal)) {
        if (!matches(record)) continue;
        if (!counting && total >= first && pageRecords.length < maxRows) pageRecords.push(record);
        total += 1;
      }
      return { json: searchResult(ctx, pageRecords, total, ctx.sim.knobs.inlineAssignments) };
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${TN}/dnisPool$`),
    name: 'createDnisPool',
    kind: 'api',
    handle(ctx) {
      const created = ctx.sim.state.createRecords(ctx.principal, asArray(ctx));
      return { json: created.map((r) => ctx.sim.state.poolJson(r, { inlineAssignment: false })) };
    },
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${TN}/dnisPool$`),
    name: 'updateDnisPool',
    kind: 'api',
    handle(ctx) {
      const updated = ctx.sim.state.updateRecords(ctx.principal, asArray(ctx));
      return { json: updated.map((r) => ctx.sim.state.poolJson(r, { inlineAssignment: false })) };
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${TN}/dnisPool/(?<dnis>[^/]+)$`),
    name: 'getDnisPool',
    kind: 'api',
    handle(ctx) {
      const record = ctx.sim.state.requireRecord(ctx.principal, (ctx.params.dnis ?? '').replace(/^\+/, ''));
      return { json: ctx.sim.state.poolJson(record, { inlineAssignment: true }) };
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${TN}/uploadDnisPool$`),
    name: 'uploadDnisPool',
    kind: 'api',
    handle(ctx) {
      if (ctx.query.get('fileType') !== 'COMMA') throw badRequest('fileType is required and must be COMMA', 'fileType');
      const file = multipartPart(ctx, 'file');
      if (!file) throw badRequest('Required request part \'file\' is not present', 'file');
      const quote = ctx.query.get('quoteCharacter') ?? '"';
      let rows: Record<string, string>[];
      try {
        rows = parse(file, { columns: true, bom: true, quote, skip_empty_lines: true, trim: true });
      } catch (error) {
        throw badRequest(`Could not read the file: ${(error as Error).message}`, 'file');
      }
      const errors: string[] = [];
      const seen = new Set<string>();
      const valid: Record<string, unknown>[] = [];
      rows.forEach((row, index) => {
        const dnis = String(row.dnis ?? '').replace(/^\+/, '');
        if (!isValidWireDnis(dnis)) return void errors.push(`Row ${index + 1}: invalid DNIS ${row.dnis ?? ''}`);
        if (seen.has(dnis)) throw conflict(`DNIS ${dnis} is duplicated in the upload`);
        seen.add(dnis);
        if (ctx.sim.state.pool.has(dnis)) return void errors.push(`Row ${index + 1}: DNIS ${dnis} already exists`);
        valid.push({ ...row, dnis, reservedAccountId: row.reservedAccountId || undefined });
      });
      if (ctx.sim.knobs.uploadMode === 'commit' && valid.length > 0) ctx.sim.state.createRecords(ctx.principal, valid);
      return {
        json: {
          records: valid,
          uploadStatus: {
            errorCode: errors.length ? 'upload.partial' : null,
            errorMessage: errors,
            totalRecords: rows.length,
            validRecords: valid.length,
            validated: true,
          },
        },
      };
    },
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${TN}/updateBulkDnisPool$`),
    name: 'updateBulkDnisPool',
    kind: 'api',
    handle(ctx) {
      const updated = ctx.sim.state.updateRecords(ctx.principal, asArray(ctx), { skipUnknown: true });
      return { json: { message: 'Bulk update completed', status: 'SUCCESS', updatedRows: String(updated.length) } };
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${TN}/accounts$`),
    name: 'listAccounts',
    kind: 'api',
    handle(ctx) {
      const accounts = ctx.sim.seed.accounts
        .filter((a) => ctx.sim.state.canAccess(ctx.principal, a.accountId))
        .map((a) => ({ ...a, mainAccountId: ctx.sim.seed.mainAccountId }));
      return { json: accounts };
    },
  },
];
