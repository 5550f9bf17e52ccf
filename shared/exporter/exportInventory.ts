import { createHash } from 'node:crypto';
import { DETAIL_TYPES } from '../contracts';
import { csvLine } from '../csv/writer';
import { NumberSet } from '../csv/numberSet';
import { actionableDrift, type DriftKind, driftOf, driftOfAbsent } from '../domain/drift';
import { logger } from '../observability/powertools';
import { withCallTally } from '../observability/ringcxCalls';
import type { DnisPool } from '../ringcx/schemas';
import { uploadLines } from '../aws/s3Text';
import type { Dependencies } from '../dependencies';
import { toCurrentAssignment } from '../ringcx/currentState';
import { toWireDnis } from '../domain/phoneNumber';
import { EXPORT_HEADER, inventoryLine } from './csvLines';
import { DriftReport } from './driftReport';

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

/**
 * Exports every number with its current routing, page by page, straight into an S3 multipart
 * upload (see csvLines.ts for the file), and writes a drift report against the desired-state ledger
 * (the rules are shared/domain/drift.ts). Memory holds one page of numbers, its ledger entries, and
 * the set of exported numbers (for "declared but missing"): about 3 MB at 100,000 numbers.
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
  const exported = new NumberSet(1 << 14);
  const drift = new DriftReport(rt.aws.s3, { bucket: rt.config.BUCKET_NAME, key: files.drift });
  await drift.start();
  let numbers = 0;
  let assigned = 0;
  let pages = 0;
  // Widened on purpose: the page loop (a closure) may set it to 'incomplete'.
  let status = 'complete' as ExportManifest['status'];
  let slowestPageMs = 0;

  const work = withCallTally(async () => {
    const tracking = await trackingGroupsOf(rt, options.accountIds);

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
          const dnis = toWireDnis(record.dnis as string);
          const assignment = await currentAssignment(rt, dnis, record);
          out += inventoryLine(dnis, record, assignment, tracking.get(dnis));
          numbers += 1;
          if (assignment) assigned += 1;
          exported.add(dnis);
          for (const finding of driftOf(dnis, record, assignment?.target ?? null, ledger.get(dnis))) await drift.add(finding);
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
      for await (const item of rt.store.ledger()) {
        if (!exported.has(item.dnis)) await drift.add(driftOfAbsent(item));
      }
    }
  });

  let tally;
  try {
    ({ tally } = await work);
  } catch (error) {
    await drift.abort(error as Error);
    throw error;
  }
  await drift.finish();
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
    drift: drift.counts,
  };
  await uploadLines(rt.aws.s3, { bucket: rt.config.BUCKET_NAME, key: files.manifest, contentType: 'application/json' }, [`${JSON.stringify(manifest, null, 2)}\n`]);

  await rt.events.publish(actionableDrift(drift.counts) > 0 ? DETAIL_TYPES.driftDetected : DETAIL_TYPES.exportCompleted, {
    exportId: stamp,
    status,
    numbers,
    drift: drift.counts,
    files,
  });
  if (status === 'incomplete') await rt.events.publish(DETAIL_TYPES.exportIncomplete, { exportId: stamp, numbers, pages, files });
  return manifest;
}

/** Tracking numbers and their groups (`id:name`) by number, one call per account. */
async function trackingGroupsOf(rt: Dependencies, accountIds: string[]): Promise<Map<string, string>> {
  const tracking = new Map<string, string>();
  for (const accountId of accountIds) {
    for (const group of await rt.ringcx.listTracGroupsWithChildren(accountId)) {
      for (const trac of group.tracNumbers ?? []) {
        const dnis = trac.assignedDnis?.dnis ?? trac.assignedDnis?.dnisE164;
        if (dnis) tracking.set(toWireDnis(dnis), `${group.tracGroupId}:${group.groupName ?? ''}`);
      }
    }
  }
  return tracking;
}

/** Inline assignment data where the search returns it; one GET only where it does not. */
async function currentAssignment(rt: Dependencies, dnis: string, record: DnisPool) {
  let assigned = record.assignedDnis;
  if (!assigned && record.dnisState?.toUpperCase() !== 'UNASSIGNED') assigned = await rt.ringcx.getAssignment(dnis);
  return toCurrentAssignment(assigned);
}
