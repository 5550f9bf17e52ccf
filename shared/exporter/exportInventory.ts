import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { DETAIL_TYPES } from '../contracts';
import { csvLine } from '../csv/writer';
import { NumberLineIndex } from '../csv/numberIndex';
import { describeTarget, type Target } from '../domain/desiredRow';
import { sameTarget } from '../domain/planner';
import { logger } from '../observability/powertools';
import { withCallTally } from '../observability/ringcxCalls';
import type { LedgerDeclaration, LedgerEntry, LedgerItem } from '../store/jobStore';
import type { DnisPool } from '../ringcx/schemas';
import { uploadLines } from '../aws/s3Text';
import type { Dependencies } from '../dependencies';
import { toCurrentAssignment } from '../ringcx/currentState';
import { toWireDnis } from '../domain/phoneNumber';

export const EXPORT_HEADER = [
  'dnis',
  'e164',
  'account_id',
  'description',
  'category',
  'active',
  'target_type',
  'target_id',
  'target_name',
  'assignment_description',
  'assignment_active',
  'tracking_group',
];
export const DRIFT_HEADER = ['dnis', 'kind', 'desired', 'actual', 'detail', 'declared_by_job', 'declared_on_line'];

export type DriftKind =
  | 'missing'
  | 'assigned-elsewhere'
  | 'unassigned'
  | 'description-mismatch'
  | 'active-mismatch'
  | 'not-applied'
  | 'undeclared';

export interface ExportOptions {
  accountIds: string[];
  pageSize: number;
  /** Time left in the invocation; the export stops loudly rather than being killed silently. */
  remainingMs: () => number;
  /** Below this much remaining time no further page is started. */
  safetyMs: number;
  now?: Date;
}

export interface ExportManifest {
  exportId: string;
  status: 'complete' | 'incomplete';
  /** How the run fits its time limit: one invocation with the headroom below, or stopped early. */
  completion: string;
  startedAt: string;
  completedAt: string;
  durationMs: number;
  accounts: string[];
  pageSize: number;
  pages: number;
  numbers: number;
  assigned: number;
  apiCalls: number;
  apiCallsByEndpoint: Record<string, number>;
  headroomMs: number;
  checksum: { algorithm: 'sha256'; value: string };
  files: { export: string; drift: string; manifest: string };
  drift: Record<DriftKind, number>;
}

const TYPE_NAMES: Record<Target['type'], string> = {
  gate: 'queue',
  visualIvr: 'visual_ivr',
  cloudRouteProfile: 'cloud_route_profile',
  trackingGroup: 'tracking_group',
};

const zeroDrift = (): Record<DriftKind, number> => ({
  missing: 0,
  'assigned-elsewhere': 0,
  unassigned: 0,
  'description-mismatch': 0,
  'active-mismatch': 0,
  'not-applied': 0,
  undeclared: 0,
});

/**
 * The export is also a valid input file: fed back through the importer it declares exactly what
 * RingCX holds, so it changes nothing (test/integration/exporter/roundTrip.test.ts). Its columns
 * e164, target_name and tracking_group are informational and ignored on import.
 *
 * Exports every number with its current routing, page by page, straight into an S3 multipart
 * upload, and writes a drift report against the desired-state ledger. Memory holds one page of
 * numbers, its ledger entries, and a 12-byte-per-number set of exported numbers (for "declared
 * but missing"): about 1.2 MB at 100,000 numbers.
 */
export async function exportInventory(rt: Dependencies, options: ExportOptions): Promise<ExportManifest> {
  const started = options.now ?? new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const day = started.toISOString().slice(0, 10).split('-');
  const base = `exports/${day[0]}/${day[1]}/${day[2]}`;
  const files = {
    export: `${base}/assignments-${stamp}.csv`,
    drift: `${base}/drift-${stamp}.csv`,
    manifest: `${base}/manifest-${stamp}.json`,
  };
  const hash = createHash('sha256');
  const exported = new NumberLineIndex(1 << 14);
  const drift = zeroDrift();
  // The drift report streams into its own multipart upload while the export is read, so neither
  // file is ever held whole, whatever the inventory size.
  const driftStream = new PassThrough();
  const driftUpload = uploadLines(rt.aws.s3, { bucket: rt.config.BUCKET_NAME, key: files.drift, contentType: 'text/csv; charset=utf-8' }, driftStream);
  const writeDrift = async (line: string) => {
    if (!driftStream.write(line)) await once(driftStream, 'drain');
  };
  await writeDrift(csvLine(DRIFT_HEADER));
  let numbers = 0;
  let assigned = 0;
  let pages = 0;
  // Widened on purpose: the page loop (a closure) may set it to 'incomplete'.
  let status = 'complete' as ExportManifest['status'];
  let slowestPageMs = 0;

  const work = withCallTally(async () => {
    // Tracking numbers and their groups, per account: one call each.
    const tracking = new Map<string, string>();
    for (const accountId of options.accountIds) {
      for (const group of await rt.ringcx.listTracGroupsWithChildren(accountId)) {
        for (const trac of group.tracNumbers ?? []) {
          const dnis = trac.assignedDnis?.dnis ?? trac.assignedDnis?.dnisE164;
          if (dnis) tracking.set(toWireDnis(dnis), `${group.tracGroupId}:${group.groupName ?? ''}`);
        }
      }
    }

    async function* rows(): AsyncGenerator<string> {
      const header = csvLine(EXPORT_HEADER);
      hash.update(header);
      yield header;
      for (let page = 0; ; page++) {
        if (options.remainingMs() < options.safetyMs + slowestPageMs) {
          status = 'incomplete';
          logger.error('export stopped before the function timeout; the manifest marks it incomplete', { page, numbers });
          return;
        }
        const pageStarted = performance.now();
        const result = await rt.ringcx.searchPools({ accountIds: options.accountIds }, { page, maxRows: options.pageSize });
        pages += 1;
        const records = result.records.filter((r) => r.dnis);
        const ledger = await rt.store.getLedgerEntries(records.map((r) => toWireDnis(r.dnis as string)));
        let out = '';
        for (const record of records) {
          const line = await exportLine(rt, record, tracking);
          out += line.csv;
          numbers += 1;
          if (line.assignment) assigned += 1;
          exported.claim(line.dnis, 1);
          for (const finding of compare(line.dnis, record, line.assignment?.target ?? null, ledger.get(line.dnis))) {
            drift[finding.kind] += 1;
            await writeDrift(finding.csv);
          }
        }
        hash.update(out);
        yield out;
        slowestPageMs = Math.max(slowestPageMs, performance.now() - pageStarted);
        const seen = (page + 1) * options.pageSize;
        if (records.length < options.pageSize || (result.total !== undefined && seen >= result.total)) return;
      }
    }
    await uploadLines(rt.aws.s3, { bucket: rt.config.BUCKET_NAME, key: files.export, contentType: 'text/csv; charset=utf-8' }, rows());

    // Declared in the ledger but absent from RingCX. Only meaningful for a complete export.
    if (status === 'complete') {
      for await (const entry of rt.store.ledger()) {
        if (exported.claim(entry.dnis, 2) !== 0) continue;
        if (isApplied(entry)) {
          drift.missing += 1;
          await writeDrift(csvLine([entry.dnis, 'missing', describeDesired(entry), 'not in RingCX', 'declared but not in the DNIS pool', entry.jobId, entry.line]));
        } else {
          drift['not-applied'] += 1;
          await writeDrift(notAppliedLine(entry.dnis, entry.declared, 'not in RingCX'));
        }
      }
    }
  });

  let tally;
  try {
    ({ tally } = await work);
  } catch (error) {
    // Abort the drift upload too, rather than leave it waiting for lines that will never come.
    driftStream.destroy(error as Error);
    await driftUpload.catch(() => undefined);
    throw error;
  }
  driftStream.end();
  await driftUpload;
  const completedAt = new Date();
  const durationMs = completedAt.getTime() - started.getTime();
  const manifest: ExportManifest = {
    exportId: stamp,
    status,
    completion:
      status === 'complete'
        ? 'single invocation: every page fit inside the function timeout with the headroom below'
        : 'stopped early to stay inside the function timeout; rerun on demand or raise the page size',
    startedAt: started.toISOString(),
    completedAt: completedAt.toISOString(),
    durationMs,
    accounts: options.accountIds,
    pageSize: options.pageSize,
    pages,
    numbers,
    assigned,
    apiCalls: tally.total,
    apiCallsByEndpoint: Object.fromEntries(tally.byEndpoint),
    headroomMs: Math.max(0, Math.round(options.remainingMs())),
    checksum: { algorithm: 'sha256', value: hash.digest('hex') },
    files,
    drift,
  };
  await uploadLines(rt.aws.s3, { bucket: rt.config.BUCKET_NAME, key: files.manifest, contentType: 'application/json' }, [`${JSON.stringify(manifest, null, 2)}\n`]);

  const actionable = drift.missing + drift['assigned-elsewhere'] + drift.unassigned + drift['description-mismatch'] + drift['active-mismatch'];
  await rt.events.publish(actionable > 0 ? DETAIL_TYPES.driftDetected : DETAIL_TYPES.exportCompleted, {
    exportId: stamp,
    status,
    numbers,
    drift,
    files,
  });
  if (status === 'incomplete') await rt.events.publish(DETAIL_TYPES.exportIncomplete, { exportId: stamp, numbers, pages, files });
  return manifest;
}

async function exportLine(rt: Dependencies, record: DnisPool, tracking: Map<string, string>) {
  const dnis = toWireDnis(record.dnis as string);
  // Inline assignment data where the search returns it; one GET only where it does not.
  let assigned = record.assignedDnis;
  if (!assigned && record.dnisState?.toUpperCase() !== 'UNASSIGNED') assigned = await rt.ringcx.getAssignment(dnis);
  const assignment = toCurrentAssignment(assigned);
  const target = assignment?.target;
  // A target this system does not manage (an SMS assignment, say) is named in target_name but left
  // out of target_type/target_id: fed back as input, such a row must leave its routing alone.
  const managed = target && target.id > 0 ? target : undefined;
  const csv = csvLine([
    // E.164 with its "+", so a re-import reads an international number as such and not as a
    // national number of the default region.
    `+${dnis}`,
    record.dnisE164 ?? `+${dnis}`,
    record.reservedAccountId ?? '',
    record.dnisDescription ?? '',
    record.dnisCategory ?? '',
    record.active ?? '',
    managed ? TYPE_NAMES[managed.type] : '',
    managed ? managed.id : '',
    managed ? (assignment?.targetName ?? '') : assignment ? `other: ${assignment.targetName ?? 'another product'}` : '',
    assignment?.description ?? '',
    assignment ? (assignment.isActive ?? '') : '',
    tracking.get(dnis) ?? '',
  ]);
  return { dnis, csv, assignment };
}

function describeDesired(entry: LedgerEntry): string {
  if (entry.target === undefined) return 'in the pool';
  return entry.target === null ? 'unassigned' : describeTarget(entry.target);
}

function isApplied(entry: LedgerItem): entry is LedgerEntry & { declared?: LedgerDeclaration } {
  return entry.jobId !== undefined;
}

/** Informational: a file named the number, but its row changed nothing, so nothing is desired yet. */
function notAppliedLine(dnis: string, declared: LedgerDeclaration, actual: string): string {
  return csvLine([
    dnis,
    'not-applied',
    '',
    actual,
    `declared by a file row that ended ${declared.outcome}; nothing was applied, so there is no desired state to compare (informational)`,
    declared.jobId,
    declared.line,
  ]);
}

function compare(dnis: string, record: DnisPool, actual: Target | null, item: LedgerItem | undefined) {
  const findings: { kind: DriftKind; csv: string }[] = [];
  const actualText = actual ? describeTarget(actual) : 'unassigned';
  if (!item) {
    findings.push({ kind: 'undeclared', csv: csvLine([dnis, 'undeclared', '', actualText, 'in RingCX but no file or event ever declared it (informational)', '', '']) });
    return findings;
  }
  if (!isApplied(item)) {
    findings.push({ kind: 'not-applied', csv: notAppliedLine(dnis, item.declared, actualText) });
    return findings;
  }
  const entry = item;
  const add = (kind: DriftKind, desired: string, actualValue: string, detail: string) =>
    findings.push({ kind, csv: csvLine([dnis, kind, desired, actualValue, detail, entry.jobId, entry.line]) });
  if (entry.target) {
    if (!actual) add('unassigned', describeTarget(entry.target), 'unassigned', 'should be assigned');
    else if (!sameTarget(actual, entry.target)) add('assigned-elsewhere', describeTarget(entry.target), describeTarget(actual), 'routes somewhere other than declared');
  } else if (entry.target === null && actual) {
    add('assigned-elsewhere', 'unassigned', describeTarget(actual), 'declared unassigned but routes calls');
  }
  if (entry.description !== undefined && entry.description !== (record.dnisDescription ?? '')) {
    add('description-mismatch', entry.description, record.dnisDescription ?? '', 'pool description differs');
  }
  if (entry.active !== undefined && record.active !== undefined && record.active !== null && entry.active !== record.active) {
    add('active-mismatch', String(entry.active), String(record.active), 'pool active flag differs');
  }
  return findings;
}
