import { driftOf, driftOfAbsent } from '../domain/drift';
import { toWireDnis } from '../domain/phoneNumber';
import type { Dependencies } from '../dependencies';
import { toCurrentAssignment } from '../ringcx/currentState';
import type { DnisPool } from '../ringcx/schemas';
import type { ExportedNumbers } from './carriedState';
import { inventoryLine } from './csvLines';
import type { DriftReport } from './driftReport';
import type { PartUpload } from './partUpload';

/** An export as one invocation works on it: where the pages stand and what has been written. */
export interface PageProgress {
  accountIds: string[];
  pageSize: number;
  nextPage: number;
  pagesDone: boolean;
  pages: number;
  numbers: number;
  assigned: number;
  slowestPageMs: number;
  exported: ExportedNumbers;
  tracking: Map<string, string>;
  exportFile: PartUpload;
  drift: DriftReport;
}

/**
 * Reads pages until the last one, or until the time left would not cover another page (the
 * slowest so far) plus `safetyMs`: then false, and the caller saves where it is. Each page's lines
 * go to the file's buffer, and whole parts to S3, before the next page is read.
 */
export async function readPages(rt: Dependencies, run: PageProgress, time: { remainingMs: () => number; safetyMs: number }): Promise<boolean> {
  while (!run.pagesDone) {
    if (time.remainingMs() < time.safetyMs + run.slowestPageMs) return false;
    const pageStarted = performance.now();
    const page = run.nextPage;
    const result = await rt.ringcx.searchPools({ accountIds: run.accountIds }, { page, maxRows: run.pageSize });
    run.pages += 1;
    const records = result.records.filter((r) => r.dnis);
    const ledger = await rt.store.getLedgerEntries(records.map((r) => toWireDnis(r.dnis as string)));
    let out = '';
    for (const record of records) {
      const dnis = toWireDnis(record.dnis as string);
      // Offset paging over a changing inventory can hand a number out twice: the file has it once.
      if (!run.exported.add(dnis)) continue;
      const assignment = await currentAssignment(rt, dnis, record);
      out += inventoryLine(dnis, record, assignment, run.tracking.get(dnis));
      run.numbers += 1;
      if (assignment) run.assigned += 1;
      for (const finding of driftOf(dnis, record, assignment?.target ?? null, ledger.get(dnis))) run.drift.add(finding);
    }
    run.exportFile.write(out);
    await run.exportFile.flush();
    await run.drift.flush();
    run.nextPage = page + 1;
    run.slowestPageMs = Math.max(run.slowestPageMs, performance.now() - pageStarted);
    const seen = (page + 1) * run.pageSize;
    if (records.length < run.pageSize || (result.total !== undefined && seen >= result.total)) run.pagesDone = true;
  }
  return true;
}

/** Declared in the ledger but absent from RingCX. Only meaningful once every page is read. */
export async function addDeclaredButMissing(rt: Dependencies, run: PageProgress): Promise<void> {
  let read = 0;
  for await (const item of rt.store.ledger()) {
    if (!run.exported.has(item.dnis)) run.drift.add(driftOfAbsent(item));
    if (++read % 1000 === 0) await run.drift.flush();
  }
  // So the tail carried with the final counts (exportCheckpoints.ts) is under a part, like every other.
  await run.drift.flush();
}

/** Tracking numbers and their groups (`id:name`) by number, one call per account. */
export async function trackingGroupsOf(rt: Dependencies, accountIds: string[]): Promise<Map<string, string>> {
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
