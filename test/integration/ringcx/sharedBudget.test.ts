import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createJobTable } from '../../../local/aws/dynamodbLocal';
import { type BudgetPriority, withBudgetPriority } from '../../../shared/ringcx/requestBudget';
import { SharedBudget } from '../../../shared/ringcx/sharedBudget';
import { DynamoBudgetLedger } from '../../../shared/store/budgetSlices';
import { maxInAnyWindow } from '../../../local/twin/requestWindows';

/*
 * Several SharedBudget instances (each with its own DynamoDB client, as separate Lambda instances
 * would have) share one tenant's budget in DynamoDB Local. RingCX's 120 a minute is scaled to 60
 * per 6 s with 300 ms slices of 2.7 requests (production: 1 s slices of 1.9). Slices are longer
 * than a twentieth of a second here because DynamoDB Local on a loaded 2-core machine answers in
 * 30-300 ms, where DynamoDB answers in under 10. The instances run in this one process and read
 * one clock, so the clock skew they must allow for is only the event loop's jitter between a grant
 * and the caller recording it (50 ms); tokens answered late may be spent for 250 ms after their
 * slice. With the short slices that takes the headroom to 10% here.
 */

const WINDOW_MS = 6_000;
const BUDGET = 60;
const SLICE_MS = 300;
/**
 * 50 ms of clock skew and 250 ms of late spending: a window meets ceil((6,000 + 300 + 300)/300) = 22
 * slices, so the headroom must be at least 1 - 6,000/6,600 = 9.1% (see budgetSlices.ts).
 */
const HEADROOM = 0.1;
const ADMITTED_PER_WINDOW = BUDGET * (1 - HEADROOM);

let endpoint: string;
let tableName: string;
const ledgerRequests = { count: 0 };
const ledgerErrors: unknown[] = [];

beforeAll(async () => {
  endpoint = inject('dynamoEndpoint');
  tableName = `budget-${Date.now()}`;
  await createJobTable(endpoint, tableName);
  // DynamoDB Local's JVM answers its first few hundred requests in up to seconds while it compiles
  // them; the runs below measure the budget, not that.
  const warmUp = Date.now() + 3_000;
  await Promise.all([saturate(instance('warm-up'), 'a', 'import', 4, warmUp, []), saturate(instance('warm-up'), 'b', 'export', 4, warmUp, [])]);
});

/** One instance: its own client, whose every request is counted (in `counter` too, if given). */
function instance(tenantKey: string, counter?: { count: number }): SharedBudget {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  client.middlewareStack.add(
    (next) => async (args) => {
      ledgerRequests.count += 1;
      if (counter) counter.count += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countBudgetRequests' },
  );
  const ledger = new DynamoBudgetLedger(DynamoDBDocumentClient.from(client), tableName);
  return new SharedBudget({ ledger, tenantKey, budget: BUDGET, windowMs: WINDOW_MS, sliceMs: SLICE_MS, headroom: HEADROOM, clockSkewMs: 50, lateSpendMs: 250, onLedgerError: (e) => ledgerErrors.push(e) });
}

interface Admission {
  at: number;
  who: string;
}

/** `callers` callers that acquire again as soon as they are admitted, until `until`. */
function saturate(budget: SharedBudget, who: string, priority: BudgetPriority, callers: number, until: number, log: Admission[]): Promise<void> {
  const caller = () =>
    withBudgetPriority(priority, async () => {
      while (Date.now() < until) {
        await budget.acquire();
        log.push({ at: Date.now(), who });
      }
    });
  return Promise.all(Array.from({ length: callers }, caller)).then(() => undefined);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SharedBudget across instances, on DynamoDB Local', () => {
  it('holds every window to the budget, uses most of it, serves a reassignment within a window and keeps an export its minimum', { timeout: 90_000 }, async () => {
    const requestsBefore = ledgerRequests.count;
    const perInstance = [{ count: 0 }, { count: 0 }, { count: 0 }];
    const log: Admission[] = [];
    const start = Date.now();
    const until = start + 3 * WINDOW_MS;
    const running = [
      saturate(instance('tenant-main', perInstance[0]), 'import-a', 'import', 12, until, log),
      saturate(instance('tenant-main', perInstance[1]), 'import-b', 'import', 12, until, log),
      saturate(instance('tenant-main', perInstance[2]), 'export', 'export', 4, until, log),
    ];
    await sleep(WINDOW_MS);
    // A reassignment request arrives: 6 moves, two at a time, each move's two calls reserved together.
    const arrived = Date.now();
    const reassign = instance('tenant-main');
    const moves = Array.from({ length: 6 }, (_, i) => i);
    const reassignWaits: number[] = [];
    const mover = () =>
      withBudgetPriority('reassign', async () => {
        for (let move = moves.shift(); move !== undefined; move = moves.shift()) {
          const asked = Date.now();
          await reassign.reserve(2);
          reassignWaits.push(Date.now() - asked);
          for (let call = 0; call < 2; call++) {
            await reassign.acquire();
            log.push({ at: Date.now(), who: 'reassign' });
          }
        }
      });
    await Promise.all([mover(), mover()]);
    const reassignDone = Date.now();
    await Promise.all(running);

    const times = log.map((a) => a.at);
    const inRun = log.filter((a) => a.at < until);
    // From the first admission: before it, each instance's first DynamoDB request (a new connection
    // to a cold JVM) takes up to a second, which measures DynamoDB Local, not the budget.
    const firstAt = Math.min(...times);
    const utilization = inRun.length / ((ADMITTED_PER_WINDOW * (until - firstAt)) / WINDOW_MS);
    // The export's minimum holds against imports; a reassignment comes first (and its demand is
    // remembered for the hold after it, 5 slices), so its stretch is left out.
    const reassignEnd = reassignDone + 5 * SLICE_MS;
    const exports = inRun.filter((a) => a.who === 'export' && (a.at < arrived || a.at >= reassignEnd)).length;
    const exportMinimum = (0.1 * ADMITTED_PER_WINDOW * (until - firstAt - (reassignEnd - arrived))) / WINDOW_MS;
    const whileReassigning = log.filter((a) => a.at >= arrived && a.at <= reassignDone);
    const reassignShare = whileReassigning.filter((a) => a.who === 'reassign').length / whileReassigning.length;
    const requestsPerAdmission = (ledgerRequests.count - requestsBefore) / log.length;
    const slices = (Date.now() - start) / SLICE_MS;
    const busiestInstancePerSlice = Math.max(...perInstance.map((c) => c.count)) / slices;
    console.log(
      `shared budget: ${log.length} admitted, worst window ${maxInAnyWindow(times, WINDOW_MS)}/${BUDGET}, utilization ${(utilization * 100).toFixed(1)}% of ${ADMITTED_PER_WINDOW}/window, ` +
        `${requestsPerAdmission.toFixed(2)} DynamoDB requests per admission (per instance per slice: ${perInstance.map((c) => (c.count / slices).toFixed(2)).join(', ')}), reassignment's 12 calls done ${reassignDone - arrived} ms after it arrived (longest wait ${Math.max(...reassignWaits)} ms, ${(reassignShare * 100).toFixed(0)}% of admissions meanwhile), ` +
        `export ${exports} outside the reassignment (minimum ${exportMinimum.toFixed(1)}), ledger errors ${ledgerErrors.length}`,
    );
    expect(maxInAnyWindow(times, WINDOW_MS)).toBeLessThanOrEqual(BUDGET);
    expect(utilization).toBeGreaterThanOrEqual(0.85);
    // No move waits a window for its calls; the whole request (nine tenths of the budget are its
    // own while imports saturate) is done within one too.
    expect(Math.max(...reassignWaits)).toBeLessThan(WINDOW_MS);
    expect(reassignDone - arrived).toBeLessThan(WINDOW_MS);
    // ...because most of every slice is its own while it waits: one instance of four, without
    // priority, it would get about a third of the admissions (see the report of this test). How
    // much more it gets depends on how fast its calls come back on this machine; the share the
    // default keeps for it is checked in test/unit/ringcx/budgetSlices.test.ts.
    expect(reassignShare).toBeGreaterThanOrEqual(0.45);
    // The minimum is whole tokens spread over slices (one every three or four here): each edge of
    // the two stretches measured can cut one off.
    expect(exports).toBeGreaterThanOrEqual(Math.floor(exportMinimum) - 2);
    // A waiting instance reads the control item once a slice and tries to take once or twice early
    // in it, and once or twice late when its cap left room for others: a handful a slice at most.
    expect(busiestInstancePerSlice).toBeLessThan(4);
    expect(requestsPerAdmission).toBeLessThan(7);
  });

  it('stops every instance when one of them is told to pause, until the pause ends', { timeout: 60_000 }, async () => {
    const log: Admission[] = [];
    const pausing = instance('tenant-pause');
    const until = Date.now() + 10_000;
    const running = [saturate(pausing, 'pausing', 'import', 8, until, log), saturate(instance('tenant-pause'), 'other', 'import', 8, until, log)];
    await sleep(3_500);
    const pausedAt = Date.now();
    pausing.pause(3_000);
    await Promise.all(running);
    // The other instance sees the pause at its next slice's control read: one slice and a round trip.
    const seenBy = pausedAt + SLICE_MS + 300;
    const during = log.filter((a) => a.at >= seenBy && a.at < pausedAt + 3_000);
    expect(log.filter((a) => a.who === 'other' && a.at < pausedAt).length).toBeGreaterThan(5);
    expect(during).toEqual([]);
    expect(log.filter((a) => a.who === 'other' && a.at >= pausedAt + 3_000).length).toBeGreaterThan(10);
  });

  it('loses at most the slice of an instance that took tokens and vanished', { timeout: 60_000 }, async () => {
    const log: Admission[] = [];
    const start = Date.now();
    const until = start + 2 * WINDOW_MS;
    const running = [saturate(instance('tenant-dead'), 'a', 'import', 8, until, log), saturate(instance('tenant-dead'), 'b', 'import', 8, until, log)];
    await sleep(1_000);
    // Takes two tokens and is never heard of again (its process froze or was killed).
    const vanished = instance('tenant-dead');
    await vanished.reserve(2);
    const diedAt = Date.now();
    await Promise.all(running);
    const windowAfter = log.filter((a) => a.at >= diedAt && a.at < diedAt + WINDOW_MS).length;
    const firstWindow = log.filter((a) => a.at >= start && a.at < start + WINDOW_MS).length;
    console.log(`vanished instance: ${firstWindow} admitted in the window before, ${windowAfter} in the window after (of ${ADMITTED_PER_WINDOW})`);
    expect(maxInAnyWindow(log.map((a) => a.at), WINDOW_MS)).toBeLessThanOrEqual(BUDGET);
    // The window from the death on holds all of its slices' allowance but the vanished tokens' slice.
    expect(windowAfter).toBeGreaterThanOrEqual(Math.floor(ADMITTED_PER_WINDOW * 0.9) - 2);
  });
});
