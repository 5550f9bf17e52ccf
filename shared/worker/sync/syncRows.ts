import { planRow, reconcileWithIntent, sameTarget } from '../../domain/planner';
import { snapshotOf } from '../../domain/stateFingerprint';
import type { RingCxClient } from '../../ringcx/client';
import { type CurrentStateRead, readCurrentState } from '../../ringcx/currentState';
import { isRingCxError } from '../../ringcx/errors';
import { withCallDeadline } from '../../ringcx/transport';
import { admit } from './admission';
import { applyWrites } from './applyWrites';
import { type CallPace, InvocationDeadline } from './budget';
import type { SyncOptions, SyncRequest, SyncResult } from './contract';
import { IntentBook } from './intentBook';
import { finishGap, finishOwedMoves } from './moves';
import { planChanged, staleResult } from './preconditions';
import { type UnroutedSince, type Work, actionsOf, failure, targetAfter } from './work';

/** Rounds of read → plan → apply; a 409 or a lost answer earns a fresh read. */
const MAX_ROUNDS = 3;
/** Reads (each with the client's own retries) a number that may be unrouted gets before it waits for a redelivery. */
const MAX_OWED_READS = 4;

/**
 * Brings a batch of numbers to their desired state with as few RingCX calls as the API allows:
 * one search for the batch, one array create, one array update, one array assign per target. Work
 * that needs a call per number (moves that remove first, unassigns, tracking numbers) runs one
 * number at a time, each as a unit that is only started when the invocation can finish it.
 */
export async function syncRows(client: RingCxClient, requests: SyncRequest[], options: SyncOptions): Promise<Map<string, SyncResult>> {
  const remainingMs = options.remainingMs;
  if (!remainingMs) return syncWithin(client, requests, options, undefined);
  const deadline = new InvocationDeadline({
    remainingMs,
    pace: options.pace ?? clientPace(client),
    ...(options.deadlineMarginMs !== undefined ? { marginMs: options.deadlineMarginMs } : {}),
  });
  // A retry may eat into the margin, but never past half of it: the rest is for recording outcomes.
  return withCallDeadline({ remainingMs, reserveMs: deadline.marginMs / 2 }, () => syncWithin(client, requests, options, deadline));
}

async function syncWithin(
  client: RingCxClient,
  requests: SyncRequest[],
  options: SyncOptions,
  deadline: InvocationDeadline | undefined,
): Promise<Map<string, SyncResult>> {
  const results = new Map<string, SyncResult>();
  const unroutedSince: UnroutedSince = new Map();
  try {
    await syncRounds(client, requests, options, deadline, results, unroutedSince);
  } catch (error) {
    // Something other than RingCX's answer about a row unwinds the batch (the credentials, the
    // intents or budget store, a bug), maybe in the middle of a move. The batch is retried, but a
    // number this call unrouted must not route nowhere until then: its assignment is sent first.
    await finishOwedMoves(client, requests, unroutedSince, options, results, deadline);
    throw error;
  }
  // However the rounds ended (a rescue assignment that failed as retryable, a read that failed,
  // the rounds running out), a number this call unrouted gets its assignment once more before the
  // answer. One still owed after that is never reported as final: its next delivery re-reads and
  // finishes the move.
  const owed = requests.filter((request) => unroutedSince.get(request.key)?.removed);
  if (owed.length > 0) await finishOwedMoves(client, owed, unroutedSince, options, results, deadline);
  for (const request of requests) {
    if (!unroutedSince.get(request.key)?.removed) continue;
    results.set(request.key, { status: 'retry', reason: 'this move removed the number and its new assignment could not be sent yet; the next delivery finishes the move' });
  }
  return results;
}

async function syncRounds(
  client: RingCxClient,
  requests: SyncRequest[],
  options: SyncOptions,
  deadline: InvocationDeadline | undefined,
  results: Map<string, SyncResult>,
  unroutedSince: UnroutedSince,
): Promise<Map<string, SyncResult>> {
  const byNumber = new Map<string, SyncRequest>();
  for (const request of requests) {
    if (byNumber.has(request.row.dnis)) {
      // Two rows for one number in one batch would race each other; the later waits for redelivery.
      results.set(request.key, { status: 'retry', reason: 'another change to this number is in the same batch', deferred: true });
    } else {
      byNumber.set(request.row.dnis, request);
    }
  }

  const intents = new IntentBook(options.intents);

  let pending = [...byNumber.values()];
  /** Numbers whose create answered 409: a second miss in search means RingCX hides them from us. */
  const createConflicts = new Set<string>();
  const lostAnswers = new Set<string>();
  for (let round = 1; round <= MAX_ROUNDS && pending.length > 0; round++) {
    if (deadline && !deadline.fits(1)) {
      // A number this invocation left unrouted (its move's assign failed after the remove) is
      // finished on the margin kept for the deadline: deferring it would leave it routing nowhere
      // until a redelivery. Everything else waits.
      const reason = deadline.explain(1, 'reading the current state');
      for (const request of pending) if (!unroutedSince.has(request.key)) results.set(request.key, { status: 'retry', reason, deferred: true });
      pending = pending.filter((request) => unroutedSince.has(request.key));
      if (pending.length === 0) return results;
    }
    if (deadline && unroutedSince.size > 0 && !deadline.fits(2)) {
      // Not even a read and an assignment fit before the margin: the numbers this invocation
      // unrouted get their assignment at once, without the read, while time is left to send it.
      const finished = await finishOwedMoves(client, pending, unroutedSince, options, results, deadline);
      pending = pending.filter((request) => !finished.has(request.key));
      if (pending.length === 0) return results;
    }
    // The caller's own read, made just before (see SyncOptions.firstRead), stands in for the first.
    let read = round === 1 ? readingAll(options.firstRead, pending) : undefined;
    for (let attempt = 1; !read; attempt++) {
      try {
        read = await readCurrentState(client, pending.map((r) => r.row.dnis), options.maxRows);
      } catch (error) {
        // A number whose removal may have stood (its answer was lost) is finished only after a read
        // shows where it is: reads are safe to repeat, so they are, while a read and an assignment
        // still fit, rather than leaving the number unrouted until a redelivery.
        const owedNeedsRead = [...unroutedSince.values()].some((owed) => !owed.removed);
        if (owedNeedsRead && isRingCxError(error) && error.retryable && attempt < MAX_OWED_READS && (!deadline || deadline.fits(2))) continue;
        const finished = await finishOwedMoves(client, pending, unroutedSince, options, results, deadline);
        for (const request of pending) if (!finished.has(request.key)) results.set(request.key, failure(error, []));
        return results;
      }
    }
    // Intents are loaded after the read, not before it: another delivery of the same row (SQS
    // delivers at least once, and copies can run side by side) records its intent before its
    // first write, so every write this read saw has its intent visible by now. Loaded before the
    // read, the other copy's create could be seen without its intent and reported `unchanged`.
    await intents.load(pending);
    const work: Work[] = [];
    for (const request of pending) {
      const current = read.state.get(request.row.dnis) ?? { pool: undefined, assignment: null };
      if (!current.pool && createConflicts.has(request.row.dnis)) {
        results.set(request.key, {
          status: 'done',
          outcome: 'failed',
          detail: '409 the number already exists in RingCX but this user cannot see it (it is reserved for an account the credentials may not access)',
          before: null,
          after: null,
        });
        continue;
      }
      const stale = staleResult(request, current.assignment, intents.prior(request));
      if (stale) {
        results.set(request.key, stale);
        continue;
      }
      const plan = planRow(request.row, current);
      const state = snapshotOf(current);
      const changed = planChanged(request, state, plan, intents.prior(request));
      if (changed) {
        results.set(request.key, { status: 'done', outcome: 'stale', stale: true, detail: changed, before: current.assignment, after: current.assignment?.target ?? null });
        continue;
      }
      work.push({ request, plan, record: read.records.get(request.row.dnis), before: current.assignment, state, done: [] });
    }
    const writes = work.filter((w) => w.request.mode === 'apply' && w.plan.actions.length > 0);
    for (const w of work) {
      // The read settles whether a removal whose answer was lost stood: a number still on its old
      // target owes nothing; one found unrouted is finished whatever the deadline says.
      const owed = unroutedSince.get(w.request.key);
      if (!owed) continue;
      if (w.before === null) {
        w.mustFinish = true;
        // The read shows it unrouted: from here its assignment may be sent without another read.
        owed.removed = true;
      } else {
        // Already on the new target (the assignment stood, its answer lost): the gap ends now.
        if (sameTarget(w.before.target, owed.move.target)) finishGap(w, options, unroutedSince);
        unroutedSince.delete(w.request.key);
      }
    }
    const admitted = deadline ? admit(writes, deadline, options) : writes;
    await intents.record(admitted);
    await applyWrites(client, admitted, options, deadline, intents, unroutedSince);

    await intents.reclaimShared(work);
    pending = [];
    for (const w of work) {
      const key = w.request.key;
      if (w.stopped === 'replan') {
        if (w.lostAnswer) lostAnswers.add(key);
        else if (actionsOf(w, 'createPool').length > 0) createConflicts.add(w.request.row.dnis);
        pending.push(w.request);
      } else if (w.stopped === 'deferred') {
        results.set(key, { status: 'retry', reason: w.reason ?? 'deadline', deferred: true });
      } else if (w.stopped === 'stale') {
        const outcome = w.request.expectedState ? 'stale' : 'conflict';
        results.set(key, { status: 'done', outcome, stale: true, detail: w.reason ?? 'stale', before: w.before, after: w.before?.target ?? null });
      } else if (w.stopped) {
        results.set(key, failure(w.error, w.done));
      } else {
        const truth = w.request.mode === 'apply' ? reconcileWithIntent(w.plan, intents.prior(w.request)) : { outcome: w.plan.outcome, detail: w.plan.detail };
        results.set(key, {
          status: 'done',
          outcome: truth.outcome,
          detail: truth.detail,
          before: truth.before !== undefined ? truth.before : w.before,
          after: targetAfter(w),
          ...(w.unroutedMs !== undefined ? { unroutedMs: w.unroutedMs } : {}),
          ...(w.request.mode === 'plan' ? { planned: { actions: w.plan.actions, state: w.state } } : {}),
        });
      }
      intents.endRound(w);
    }
  }
  const finished = await finishOwedMoves(client, pending, unroutedSince, options, results, deadline);
  for (const request of pending) {
    if (finished.has(request.key)) continue;
    if (lostAnswers.has(request.key)) {
      // RingCX's answers kept getting lost; the change may stand. The next delivery re-reads.
      results.set(request.key, { status: 'retry', reason: `RingCX's answer was lost ${MAX_ROUNDS} times; the next delivery re-reads before writing` });
    } else {
      results.set(request.key, {
        status: 'done',
        outcome: 'failed',
        detail: 'the number kept changing in RingCX while it was being applied (409 three times); try again',
        before: null,
        after: null,
      });
    }
  }
  return results;
}

function clientPace(client: RingCxClient): CallPace {
  const transport = client.transport;
  return {
    estimateWaitMs: (calls) => transport.limiter?.estimateWaitMs(calls) ?? 0,
    latencyMs: () => transport.expectedLatencyMs,
    worstLatencyMs: () => transport.requestTimeoutMs,
    failureRate: () => transport.recentFailureRate,
    maxAttempts: () => transport.maxAttempts,
  };
}

/** The read when it covers every pending number; otherwise the engine reads for itself. */
function readingAll(read: CurrentStateRead | undefined, pending: SyncRequest[]): CurrentStateRead | undefined {
  return read && pending.every((request) => read.state.has(request.row.dnis)) ? read : undefined;
}
