import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RequestLogEntry, RingCxSimulator } from '../../../local/ringcx-simulator/server';
import { createAwsClients } from '../../../shared/aws/clients';
import { loadConfig } from '../../../shared/config';
import { type SavedPlan, SavedPlanSchema } from '../../../shared/domain/savedPlan';
import { JobStore } from '../../../shared/store/jobStore';
import { runFile, startIngestPipeline } from '../../helpers/ingest';
import { byLine, type Pipeline } from '../../helpers/pipeline';
import { testClient } from '../../helpers/ringcx';

let pipeline: Pipeline;
let sim: RingCxSimulator;
let store: JobStore;
let dynamo: ReturnType<typeof createAwsClients>['dynamo'];

beforeAll(async () => {
  pipeline = await startIngestPipeline();
  sim = pipeline.stack.simulator as RingCxSimulator;
  const config = loadConfig(pipeline.stack.env);
  dynamo = createAwsClients(config).dynamo;
  store = new JobStore(dynamo, config.TABLE_NAME, { retentionDays: 1 });
}, 60_000);
afterAll(() => pipeline?.stop());
beforeEach(() => sim.reset());

/** Every target kind, unassign, on_conflict=reassign, and rows an apply must leave alone. */
const PLAN_FILE = [
  'dnis,account_id,description,target_type,target_id,on_conflict,action',
  '12125550160,,Brand new,queue,4501,,', // 2 create + assign to a queue
  '12125550121,,,visual_ivr,701,,', // 3 assign to a visual IVR
  '12125550122,,,queue,4502,reassign,', // 4 move
  '12125550123,,,,,,unassign', // 5 unassign
  '12125550124,,Stable,queue,4501,,', // 6 unchanged
  '12125550125,,,queue,4503,fail,', // 7 conflict
  '12125550126,,,queue,4503,skip,', // 8 skipped
  '12125550161,99990002,Campaign,tracking_group,901,,', // 9 create + tracking number
  '12125550162,99990002,Overflow,cloud_route_profile,801,,', // 10 create + cloud route profile
].join('\n');

const WRITE_ROUTES: Record<string, string> = { gate: 'assign.gate', visualIvr: 'assign.visualIvr', cloudRouteProfile: 'assign.cloudRouteProfile', trackingGroup: 'createTracNumber' };

/** The writes a row's planned actions stand for, as (route, number) pairs (moves remove first). */
function plannedWrites(plan: SavedPlan): string[] {
  const writes: string[] = [];
  for (const row of plan.rows) {
    for (const action of row.actions as { kind: string; target?: { type: string } }[]) {
      const dnis = row.row.dnis;
      if (action.kind === 'createPool') writes.push(`createDnisPool ${dnis}`);
      if (action.kind === 'updatePool') writes.push(`updateDnisPool ${dnis}`);
      if (action.kind === 'unassign' || action.kind === 'reassign') writes.push(`removeAssignment ${dnis}`);
      if (action.kind === 'assign' || action.kind === 'reassign') writes.push(`${WRITE_ROUTES[action.target?.type ?? '']} ${dnis}`);
    }
  }
  return writes.sort();
}

/** The writes RingCX received, as (route, number) pairs, one per number in an array call. */
function loggedWrites(entries: RequestLogEntry[]): string[] {
  const writes: string[] = [];
  for (const entry of entries.filter((e) => e.method !== 'GET' && !['searchPools', 'searchDnis'].includes(e.route))) {
    if (entry.route === 'removeAssignment') writes.push(`removeAssignment ${entry.path.split('/').at(-1)}`);
    else if (Array.isArray(entry.body)) for (const item of entry.body as { dnis: string }[]) writes.push(`${entry.route} ${item.dnis}`);
    else writes.push(`${entry.route} ${(entry.body as { assignedDnis?: { dnis?: string } })?.assignedDnis?.dnis}`);
  }
  return writes.sort();
}

async function makePlan(key: string, csv: string) {
  const run = await runFile(pipeline, key, csv);
  const planKey = (run.summary.reports as { plan?: string }).plan as string;
  const plan = SavedPlanSchema.parse(JSON.parse((await pipeline.readObject(planKey)) as string));
  return { run, plan, planKey };
}

async function approve(planId: string, approval: Record<string, unknown> = { planId, approvedBy: 'dana@example.com', reason: 'CHG-1042 spring routing' }) {
  const event = await pipeline.putCsv(`approved/${planId}.json`, JSON.stringify(approval));
  const [parse] = (await pipeline.runParser(event)) as { status: string; jobId: string; reason?: string }[];
  await pipeline.drain();
  const job = await store.getJob(parse?.jobId as string);
  const report = await pipeline.report(job?.resultsPrefix as string);
  return { parse: parse as { status: string; jobId: string; reason?: string }, job, ...report, rows: byLine(report.results) };
}

describe('saved plans through the real chain', () => {
  it('plan → approve → apply makes exactly the planned writes, for every target kind', async () => {
    const { run, plan, planKey } = await makePlan('plan/spring.csv', PLAN_FILE);
    expect(run.summary.planId).toBe(plan.planId);
    expect(planKey).toBe(`results/spring/${run.jobId}/plan.json`);
    expect(plan.source).toMatchObject({ key: 'plan/spring.csv' });
    expect(plan.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(plan.expiresAt) - Date.parse(plan.createdAt)).toBe(24 * 3_600_000);
    expect(plan.rows.map((r) => [r.line, r.outcome])).toEqual([
      [2, 'created'],
      [3, 'assigned'],
      [4, 'reassigned'],
      [5, 'unassigned'],
      [6, 'unchanged'],
      [7, 'conflict'],
      [8, 'skipped'],
      [9, 'created'],
      [10, 'created'],
    ]);
    // The plan run wrote nothing.
    expect(loggedWrites(sim.apiCalls())).toEqual([]);

    const logStart = sim.apiCalls().length;
    const applied = await approve(plan.planId);
    expect(applied.parse.status).toBe('accepted');
    const applyLog = sim.apiCalls().slice(logStart);
    expect(loggedWrites(applyLog)).toEqual(plannedWrites(plan));
    expect(loggedWrites(applyLog).length).toBeGreaterThan(0);

    expect([...applied.rows.entries()].map(([line, row]) => [line, row.outcome])).toEqual([
      [2, 'created'],
      [3, 'assigned'],
      [4, 'reassigned'],
      [5, 'unassigned'],
      [6, 'unchanged'],
      [7, 'conflict'],
      [8, 'skipped'],
      [9, 'created'],
      [10, 'created'],
    ]);
    expect(applied.rows.get(7)?.detail).toMatch(/^planned as conflict; left as it is/);
    // The apply's report sits beside the plan's and names it, and who approved it.
    expect(applied.job?.resultsPrefix).toBe(`results/spring/${applied.parse.jobId}`);
    expect(applied.summary).toMatchObject({ planId: plan.planId, approval: { approvedBy: 'dana@example.com', reason: 'CHG-1042 spring routing' }, mode: 'apply', status: 'completed' });
    const event = pipeline.stack.json.events.find((e) => e.detailType === 'DNIS Plan Applied' && (e.detail as { jobId?: string }).jobId === applied.parse.jobId);
    expect(event?.detail).toMatchObject({ planId: plan.planId, outcomes: { created: 3, assigned: 1, reassigned: 1, unassigned: 1, unchanged: 1, conflict: 1, skipped: 1 } });

    const state = sim.state;
    expect(state.assignments.get('12125550160')).toMatchObject({ type: 'gate', id: 4501 });
    expect(state.assignments.get('12125550121')).toMatchObject({ type: 'visualIvr', id: 701 });
    expect(state.assignments.get('12125550122')).toMatchObject({ type: 'gate', id: 4502 });
    expect(state.assignments.has('12125550123')).toBe(false);
    expect(state.assignments.get('12125550125')).toMatchObject({ type: 'gate', id: 4501 });
    expect(state.assignments.get('12125550162')).toMatchObject({ type: 'cloudRouteProfile', id: 801 });
    expect(state.assignments.get('12125550161')?.type).toBe('tracNumber');

    // Who approved moving this number: the audit trail answers, with the plan.
    const trail = await store.auditTrail('12125550122');
    expect(trail).toEqual([
      expect.objectContaining({ requestedBy: 'dana@example.com', reason: 'CHG-1042 spring routing', planId: plan.planId, jobId: applied.parse.jobId, outcome: 'reassigned', before: { type: 'gate', id: 4501 }, after: { type: 'gate', id: 4502 } }),
    ]);
    const record = await store.getPlanRecord(plan.planId);
    expect(record).toMatchObject({ appliedByJob: applied.parse.jobId, planJobId: run.jobId, approval: { approvedBy: 'dana@example.com', key: `approved/${plan.planId}.json` } });
  }, 120_000);

  it('moves a number onto a tracking group as planned (remove, then a tracking number)', async () => {
    await runFile(pipeline, 'incoming/seed-track.csv', 'dnis,account_id,description,target_type,target_id\n12125550163,99990002,Seed,cloud_route_profile,801\n');
    expect(sim.state.assignments.get('12125550163')).toMatchObject({ type: 'cloudRouteProfile', id: 801 });
    const { plan } = await makePlan('plan/track.csv', 'dnis,account_id,description,target_type,target_id,on_conflict\n12125550163,99990002,Seed,tracking_group,901,reassign\n');
    expect(plan.rows.map((r) => [r.outcome, r.state.target])).toEqual([['reassigned', 'cloud_route_profile:801']]);
    const logStart = sim.apiCalls().length;
    const applied = await approve(plan.planId);
    expect(applied.rows.get(2)).toMatchObject({ outcome: 'reassigned' });
    expect(loggedWrites(sim.apiCalls().slice(logStart))).toEqual(plannedWrites(plan));
    expect(plannedWrites(plan)).toEqual(['createTracNumber 12125550163', 'removeAssignment 12125550163']);
    expect(sim.state.assignments.get('12125550163')?.type).toBe('tracNumber');
  }, 120_000);

  it('a number moved between plan and apply comes out stale and is left as RingCX has it', async () => {
    const { plan } = await makePlan('plan/stale.csv', ['dnis,target_type,target_id,on_conflict', '12125550122,queue,4502,reassign', '12125550121,queue,4503,'].join('\n'));
    // Someone moves the number in the admin portal meanwhile.
    const { client } = testClient(sim);
    await client.removeAssignment('12125550122');
    await client.assign('gate', 4503, [{ dnis: '12125550122', isActive: true }]);

    const logStart = sim.apiCalls().length;
    const applied = await approve(plan.planId);
    expect(applied.rows.get(2)).toMatchObject({ outcome: 'stale' });
    expect(applied.rows.get(2)?.detail).toMatch(/^RingCX changed since the plan: assignment queue:4501 → queue:4503/);
    expect(applied.rows.get(3)).toMatchObject({ outcome: 'assigned' });
    expect(sim.state.assignments.get('12125550122')).toMatchObject({ type: 'gate', id: 4503 });
    expect(loggedWrites(sim.apiCalls().slice(logStart))).toEqual(['assign.gate 12125550121']);
    expect(applied.summary).toMatchObject({ outcomes: { stale: 1, assigned: 1 } });
    const event = pipeline.stack.json.events.find((e) => e.detailType === 'DNIS Plan Applied' && (e.detail as { jobId?: string }).jobId === applied.parse.jobId);
    expect(event?.detail).toMatchObject({ outcomes: { stale: 1, assigned: 1 } });
  }, 120_000);

  it('refuses an expired plan, and writes nothing', async () => {
    const { plan } = await makePlan('plan/late.csv', 'dnis,target_type,target_id\n12125550121,queue,4503\n');
    // A day passes: the plan's record (what an apply trusts) says it has expired.
    await dynamo.send(
      new UpdateCommand({
        TableName: pipeline.stack.env.TABLE_NAME,
        Key: { pk: `PLAN#${plan.planId}`, sk: 'META' },
        UpdateExpression: 'SET planExpiresAt = :past',
        ExpressionAttributeValues: { ':past': new Date(Date.now() - 1_000).toISOString() },
      }),
    );
    const logStart = sim.apiCalls().length;
    const applied = await approve(plan.planId);
    expect(applied.parse).toMatchObject({ status: 'failed', reason: expect.stringMatching(new RegExp(`^plan ${plan.planId} expired at `)) });
    expect(applied.summary).toMatchObject({ status: 'failed', fileError: applied.parse.reason });
    expect(sim.apiCalls().slice(logStart)).toEqual([]);
    expect(sim.state.assignments.has('12125550121')).toBe(false);
    const event = pipeline.stack.json.events.find((e) => e.detailType === 'DNIS Plan Applied' && (e.detail as { jobId?: string }).jobId === applied.parse.jobId);
    expect(event?.detail).toMatchObject({ status: 'failed', fileError: applied.parse.reason });
  }, 120_000);

  it('refuses an approval for an unknown plan id', async () => {
    const applied = await approve('plan-0123456789abcdef01234567');
    expect(applied.parse).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^unknown plan id plan-0123456789abcdef01234567/) });
    expect(applied.job?.resultsPrefix).toBe(`results/approved/plan-0123456789abcdef01234567/${applied.parse.jobId}`);
    expect(applied.summary).toMatchObject({ status: 'failed' });
    expect(sim.apiCalls()).toEqual([]);
  }, 60_000);

  it('refuses an approval that is not one, saying why', async () => {
    const applied = await approve('plan-0123456789abcdef01234567', { planId: 'plan-0123456789abcdef01234567', approvedBy: '' });
    expect(applied.parse).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^the approval is not valid: approvedBy/) });
  }, 60_000);

  it('applies a plan once: a second approval is a no-op that names the first apply', async () => {
    const { plan } = await makePlan('plan/once.csv', 'dnis,target_type,target_id\n12125550121,queue,4503\n');
    const first = await approve(plan.planId);
    expect(first.rows.get(2)).toMatchObject({ outcome: 'assigned' });
    const logStart = sim.apiCalls().length;
    const second = await approve(plan.planId, { planId: plan.planId, approvedBy: 'lee@example.com', reason: 'again' });
    expect(second.parse.jobId).not.toBe(first.parse.jobId);
    expect(second.parse).toMatchObject({ status: 'failed', reason: `plan ${plan.planId} was already applied by job ${first.parse.jobId} (approved by dana@example.com); nothing done` });
    expect(sim.apiCalls().slice(logStart)).toEqual([]);
    expect(await store.getPlanRecord(plan.planId)).toMatchObject({ appliedByJob: first.parse.jobId, approval: { approvedBy: 'dana@example.com' } });
  }, 120_000);
});
