/**
 * `npm start`: the whole pipeline on this machine. Emulators stand in for AWS, the simulator for
 * RingCX (unless RINGCX_BASE_URL points at a real one), and the unchanged Lambda handlers run with
 * local event delivery. Results land in a local folder.
 *
 * Everything that can be checked without starting anything is checked first; RingCX is probed
 * before a row is sent; whatever was started is stopped on every way out (see local/cli/).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Context } from 'aws-lambda';
import { parseStartArgs, type StartOptions } from './cli/args';
import { ErrorLog, oneLine } from './cli/errorLog';
import { CliError, EXIT, EXIT_CODES_HELP } from './cli/exitCodes';
import { ignoredColumnLines } from './cli/hints';
import { type InputFile, planInputs } from './cli/inputs';
import { ProgressPrinter } from './cli/progress';
import { type AppliedMarker, appliedMarkerPath, readAppliedMarker, readSavedPlanFile } from './cli/savedPlanFile';
import { StallGuard } from './cli/stallGuard';
import { environmentProblems, fileProblem, javaProblem, outDirProblem } from './cli/validate';
import { watchParent } from './cli/watchdog';
import { DETAIL_TYPES } from '../shared/contracts';
import type { LocalStack, LocalStackOptions } from './stack';
import type { LocalRunner } from './wiring/runner';

const HELP = `dnis-sync, locally: CSV in, RingCX numbers provisioned, reports out.

Usage:
  npm start                                         run the example file (examples/numbers.csv), then export
  npm start -- [options] FILE.csv...                run your own files, then export
  npm start -- --reassign DNIS --to TYPE:ID [--expect TYPE:ID|none] [--by WHO] [--reason WHY]
                                                    move one number through the event bus
  npm start -- --plan FILE.csv                      save a plan: what would change, against which RingCX state
  npm start -- --apply-plan PLAN.json [--by WHO] [--reason WHY]
                                                    approve that saved plan and apply exactly it; rows whose
                                                    RingCX state changed since come out stale, untouched
  npm start -- --help

Options:
  --plan               dry run: read RingCX, change nothing, report what would happen, and save
                       the plan (plan.json, valid for PLAN_TTL_HOURS, default 24) for --apply-plan
  --out DIR            where reports go (default: out/<timestamp>); files with the same name
                       get their own folders (a, a-2, ...)
  --no-export          skip the export and drift report after the files
  --stage dev|prod     size the local twin like that stage of the deployed stack (default dev)
  --time-scale N       divide every duration (timeouts, visibility, batching windows, schedules,
                       the RingCX budget window) by N, a positive number (default 1)
  --stall-seconds S    give up when the rows make no progress for S seconds, print the errors
                       collected so far and exit 4 (default: twice the stage's worker timeout
                       divided by the time scale, at least 60)
  --verbose            show the functions' JSON logs
  TYPE is queue, visual_ivr, cloud_route_profile or tracking_group; --expect refuses the move
  unless the number is there now (none = unassigned).

Environment:
  RINGCX_BASE_URL      use this RingCX (or compatible) server instead of the simulator,
                       for the voice API and the auth endpoints
  RINGCENTRAL_BASE_URL RingCentral platform for the JWT login (default https://platform.ringcentral.com)
  RINGCX_SECRET_JSON   credentials, in the same JSON as the Secrets Manager secret:
                       {"apiToken":"..."} | {"accessToken":"...","expiresAt":"..."} |
                       {"clientId":"...","clientSecret":"...","jwt":"..."}
  RINGCX_DEFAULT_ACCOUNT_ID   account for rows without account_id (simulator: 99990001)
  Each worker and exporter environment's RingCX budget is the stage's (infra/config.ts), with its
  window divided by --time-scale.

Arguments, files, environment and Java are checked before anything starts; RingCX is probed
(login and one read) before any row is sent. Against a real tenant, start with --plan: an apply
run changes live call routing. Files are uploaded to incoming/ (or plan/ with --plan) in a local
bucket, exactly as in AWS.

${EXIT_CODES_HELP}`;

/** Outcomes that leave a row short of what the file asked for. */
const NEEDS_ATTENTION = ['failed', 'rejected', 'conflict', 'stale'] as const;

type AnyHandler<E, R> = (event: E, context: Context) => Promise<R>;

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const progress = new ProgressPrinter();
const say = (line: string) => process.stdout.write(`${line}\n`);
const complain = (line: string) => process.stderr.write(`npm start: ${line}\n`);

/** Checks everything that needs no emulator; each mistake is one line. */
function usageProblems(options: StartOptions, parseErrors: string[]): string[] {
  const problems = [...parseErrors];
  for (const file of options.files) {
    const problem = fileProblem(file);
    if (problem) problems.push(problem);
  }
  if (options.out !== undefined) {
    const problem = outDirProblem(options.out);
    if (problem) problems.push(problem);
  }
  if (options.applyPlan) {
    const read = readSavedPlanFile(options.applyPlan.path);
    if (!read.ok) problems.push(read.problem);
  }
  problems.push(...environmentProblems(process.env));
  const java = javaProblem();
  if (java) problems.push(java);
  return problems;
}

async function defaultStallSeconds(options: StartOptions): Promise<number> {
  const { stageConfig } = await import('../infra/config');
  return Math.max(60, Math.ceil((2 * stageConfig(options.stage).worker.timeoutSeconds) / options.timeScale));
}

class Session {
  stack: LocalStack | undefined;
  runner: LocalRunner | undefined;
  private stopping: Promise<void> | undefined;

  /** Set when the rows stalled: batches still in flight are stuck, so they get no time to finish. */
  stalled = false;

  /**
   * Stops what was started. In-flight batches get a moment to finish (against a real tenant a
   * batch may be mid-write), each part bounded so a stuck poller cannot keep the emulators alive.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const within = (ms: number, work: Promise<unknown> | undefined) =>
        Promise.race([Promise.resolve(work).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, ms).unref())]);
      await within(this.stalled ? 1_000 : 15_000, this.runner?.stop());
      await within(15_000, this.stack?.stop());
    })();
    return this.stopping;
  }
}

async function main(session: Session, options: StartOptions, errors: ErrorLog): Promise<number> {
  // Before anything that builds the Powertools logger and metrics is loaded: they read these once.
  // Without --verbose neither the JSON logs nor the metrics' EMF lines reach the terminal.
  if (!options.verbose) {
    process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  }
  // Loaded only now: a usage mistake is answered without loading the AWS SDK and the emulators.
  const { connectionReason, describeProbeFailure, origin, probeRingCx } = await import('./cli/probe');
  const { RingCxAuthError, RingCxError } = await import('../shared/ringcx/errors');
  const { startLocalStack } = await import('./stack');
  const { LocalRunner } = await import('./wiring/runner');
  // "connection failed" alone names neither the host nor the reason.
  errors.describe = (error) =>
    error instanceof RingCxError && error.kind === 'connection'
      ? `${oneLine(error)} (${connectionReason(error)}; RingCX at ${origin(process.env.RINGCX_BASE_URL ?? '')})`
      : oneLine(error);
  const outDir = resolve(options.out ?? join('out', new Date().toISOString().replace(/[:.]/g, '-')));
  const inputs = planInputs(options.files, options.plan ? 'plan' : 'incoming');
  const realRingCx = process.env.RINGCX_BASE_URL;
  const ringCentral = process.env.RINGCENTRAL_BASE_URL ?? 'https://platform.ringcentral.com';
  // A real tenant is probed before anything starts: a wrong URL or credential costs no emulator boot.
  if (realRingCx) {
    const failure = await probeRingCx({ ringCxBaseUrl: realRingCx, ringCentralBaseUrl: ringCentral, secretJson: process.env.RINGCX_SECRET_JSON as string });
    if (failure) throw new CliError(failure, EXIT.ringcx);
  }

  // Sizing (visibility timeouts, receive counts, each environment's RingCX budget) comes from the
  // stage alone, scaled by the time scale: no second set of numbers here.
  const stackOptions: LocalStackOptions = {
    ...(realRingCx ? { ringcx: { baseUrl: realRingCx, secretJson: process.env.RINGCX_SECRET_JSON as string } } : {}),
    stage: options.stage,
    timeScale: options.timeScale,
    env: {
      ...(process.env.RINGCX_DEFAULT_ACCOUNT_ID ? { RINGCX_DEFAULT_ACCOUNT_ID: process.env.RINGCX_DEFAULT_ACCOUNT_ID } : {}),
    },
  };
  session.stack = await startLocalStack(stackOptions);
  const stack = session.stack;
  Object.assign(process.env, stack.env);

  if (!realRingCx) {
    // The simulator is local, so this cannot fail for the network; it proves the wiring and the demo secret.
    const failure = await probeRingCx({
      ringCxBaseUrl: stack.env.RINGCX_BASE_URL as string,
      ringCentralBaseUrl: stack.env.RINGCENTRAL_BASE_URL as string,
      secretJson: stack.json.currentSecretValue(stack.env.RINGCX_SECRET_ID as string) ?? '',
    });
    if (failure) throw new CliError(failure, EXIT.ringcx);
  }

  const stallSeconds = options.stallSeconds ?? (await defaultStallSeconds(options));
  const guard = new StallGuard(stallSeconds * 1000);
  // Every function is wrapped so that an invocation that throws is printed, whatever else happens.
  const recorded = <E, R>(name: string, handler: AnyHandler<E, R>): AnyHandler<E, R> =>
    async (event, context) => {
      try {
        return await handler(event, context);
      } catch (error) {
        errors.add(name, error);
        throw error;
      }
    };
  // The parser is awaited by this process, which reports its errors itself. The worker, the
  // exporter and the sweeper run in environments of their own (processes the runner starts).
  const parser = (await import('../functions/parser/app')).handler;
  const runner = new LocalRunner(stack, {
    parser: (event, context) => guard.whilePaused(() => parser(event, context)),
    intake: recorded('reassign-intake', (await import('../functions/reassign-intake/app')).handler),
    refresher: recorded('token-refresher', (await import('../functions/token-refresher/app')).handler),
  });
  session.runner = runner;
  // Failures in those environments (errors, timeouts, crashes) and in event delivery, for the stall report.
  runner.onError((error) => errors.add(error.fn, error.message));

  say(realRingCx ? `RingCX: ${realRingCx}` : `RingCX simulator (demo tenant): ${stack.simulator?.url}`);
  mkdirSync(outDir, { recursive: true });
  runner.start();

  const work = async (): Promise<number> => {
    let exitCode: number = EXIT.ok;
    if (options.reassign) {
      const { dnis, to, expect, by, reason } = options.reassign;
      const detail = { dnis, target: to, requestedBy: by, reason, ...(expect !== undefined ? { expectedCurrentTarget: expect } : {}) };
      const answer = await guard.whilePaused(() => runner.reassign(detail));
      say(`${answer.detailType}: ${JSON.stringify(answer.detail, null, 2)}`);
      if (answer.detailType !== DETAIL_TYPES.reassigned) exitCode = EXIT.rowsNeedAttention;
    }
    if (options.applyPlan && !(await applySavedPlan(runner, options.applyPlan, outDir, guard))) exitCode = EXIT.rowsNeedAttention;
    for (const input of inputs) {
      if (!(await runInput(runner, input, outDir, guard))) exitCode = EXIT.rowsNeedAttention;
    }
    if (options.export) {
      let exported: Awaited<ReturnType<LocalRunner['runExport']>>;
      try {
        exported = await guard.whilePaused(() => runner.runExport());
      } catch (error) {
        if (error instanceof RingCxError || error instanceof RingCxAuthError) {
          throw new CliError(`export failed: ${describeProbeFailure(error, { ringCxBaseUrl: stack.env.RINGCX_BASE_URL as string, ringCentralBaseUrl: stack.env.RINGCENTRAL_BASE_URL as string })}`, EXIT.ringcx);
        }
        throw new CliError(`export failed: ${oneLine(error)}`, EXIT.stalledOrInternal);
      }
      const { manifest, files } = exported;
      const base = join(outDir, 'export');
      mkdirSync(base, { recursive: true });
      for (const [name, content] of Object.entries(files)) writeFileSync(join(base, name), content);
      const drift = (manifest.drift ?? {}) as Record<string, number>;
      say(`Export: ${manifest.numbers} numbers, ${manifest.apiCalls} RingCX calls; drift: ${Object.entries(drift).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      for (const name of Object.keys(files)) say(`  ${join(base, name)}`);
    }
    return exitCode;
  };

  let outcome: number | 'stalled';
  try {
    outcome = await Promise.race([work(), guard.stalled.then(() => 'stalled' as const)]);
  } finally {
    guard.stop();
  }
  if (outcome === 'stalled') {
    session.stalled = true;
    progress.finish();
    complain(`no progress for ${stallSeconds} s; stopping (raise --stall-seconds if the run is just slow)`);
    if (errors.size === 0) process.stderr.write('  no function reported an error; check the results of the rows so far and --verbose logs\n');
    else process.stderr.write(`errors collected during the run:\n${errors.lines().join('\n')}\n`);
    return EXIT.stalledOrInternal;
  }
  return outcome;
}

/**
 * --apply-plan: the saved plan goes back where its plan run left it (this run's emulators start
 * empty), then the approval object is put, exactly as in AWS; the pipeline checks expiry, state and
 * apply-once. A local marker beside the plan file carries "applied once" from one run to the next.
 */
async function applySavedPlan(runner: LocalRunner, request: NonNullable<StartOptions['applyPlan']>, outDir: string, guard: StallGuard): Promise<boolean> {
  const read = readSavedPlanFile(request.path);
  if (!read.ok) throw new CliError(read.problem, EXIT.usage);
  const { plan, text } = read.file;
  const earlier = readAppliedMarker(request.path);
  await runner.importPlan(plan, text, earlier);
  say(`Plan ${plan.planId}: ${plan.rows.length} rows from ${plan.source.key}, made ${plan.createdAt}, valid until ${plan.expiresAt}`);
  say(`Approved by ${request.by}: ${request.reason}`);
  const approval = { planId: plan.planId, approvedBy: request.by, reason: request.reason };
  const input: InputFile = { path: request.path, key: `approved/${plan.planId}.json`, reportsName: `apply-${plan.planId}` };
  let jobId: string | undefined;
  const ok = await runInput(runner, input, outDir, guard, Buffer.from(JSON.stringify(approval)), (job) => {
    if (job.summary.status === 'completed') jobId = job.jobId;
  });
  if (jobId) {
    const marker: AppliedMarker = { planId: plan.planId, jobId, approvedBy: request.by, reason: request.reason, at: new Date().toISOString() };
    writeFileSync(appliedMarkerPath(request.path), `${JSON.stringify(marker, null, 2)}\n`);
  }
  return ok;
}

/** Runs one file to its reports; false when some row needs attention or the file was refused. */
async function runInput(
  runner: LocalRunner,
  input: InputFile,
  outDir: string,
  guard: StallGuard,
  body: Buffer = readFileSync(input.path),
  onDone: (job: Awaited<ReturnType<LocalRunner['runFile']>>) => void = () => undefined,
): Promise<boolean> {
  if (input.renamedFrom) say(`${input.path}: another input is also named ${input.renamedFrom}; this one is ${input.key}`);
  let last = '';
  const job = await runner.runFile(input.key, body, (line) => {
    if (line !== last) guard.touch();
    last = line;
    progress.update(line);
  });
  progress.finish();
  const base = join(outDir, input.reportsName);
  mkdirSync(base, { recursive: true });
  for (const [name, content] of Object.entries(job.reports)) writeFileSync(join(base, name), content);
  onDone(job);
  say(job.table);
  for (const line of ignoredColumnLines(job.summary.ignoredColumns ?? [])) say(line);
  say(`Reports for ${input.path}:`);
  for (const name of Object.keys(job.reports)) say(`  ${join(base, name)}`);
  const planKey = job.summary.reports.plan;
  if (job.summary.mode === 'plan' && job.summary.planId && planKey) {
    const planPath = join(base, 'plan.json');
    writeFileSync(planPath, await runner.readObject(planKey));
    say(`Plan ${job.summary.planId}: ${planPath}`);
    say(`  apply it with: npm start -- --apply-plan ${planPath} --by WHO --reason WHY`);
  } else if (job.summary.planId && job.summary.status === 'completed') {
    say(`Plan ${job.summary.planId} applied by job ${job.jobId}`);
  }
  const attention = NEEDS_ATTENTION.map((outcome) => [outcome, job.summary.outcomes[outcome] ?? 0] as const).filter(([, count]) => count > 0);
  if (job.summary.status === 'failed') {
    say(`${input.path}: the file was refused${job.summary.fileError ? `: ${job.summary.fileError}` : ''}`);
    return false;
  }
  if (attention.length > 0) {
    say(`${input.path}: ${attention.map(([outcome, count]) => `${count} ${outcome}`).join(', ')}; see ${join(base, 'results.csv')}`);
    return false;
  }
  return true;
}

async function run(): Promise<never> {
  const { options, errors: parseErrors } = parseStartArgs(process.argv.slice(2));
  if (options.help) {
    say(HELP);
    process.exit(EXIT.ok);
  }
  const problems = usageProblems(options, parseErrors);
  if (problems.length > 0) {
    for (const problem of problems) complain(problem);
    process.exit(EXIT.usage);
  }

  const session = new Session();
  let exiting = false;
  const errors = new ErrorLog((line) => {
    if (exiting) return;
    progress.clearLine();
    complain(line);
  });
  const exitAfterStop = async (code: number) => {
    if (exiting) return;
    exiting = true;
    await session.stop();
    process.exit(code);
  };
  const onSignal = (why: string, code: number) => {
    // A second Ctrl-C does not wait; the watchdog still takes DynamoDB Local down with us.
    if (exiting) process.exit(code);
    progress.clearLine();
    complain(`${why}: stopping the emulators`);
    void exitAfterStop(code);
  };
  process.on('SIGINT', () => onSignal('SIGINT', EXIT.sigint));
  process.on('SIGTERM', () => onSignal('SIGTERM', EXIT.sigterm));
  process.on('SIGHUP', () => onSignal('SIGHUP', EXIT.sighup));
  watchParent(() => onSignal('the process that started npm start went away', EXIT.sigterm));
  const crash = (error: unknown) => {
    // Work still in flight while the emulators stop fails; that is not news.
    if (exiting) return;
    progress.clearLine();
    complain(`internal error: ${oneLine(error)}`);
    if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    void exitAfterStop(EXIT.stalledOrInternal);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);

  let code: number;
  try {
    code = await main(session, options, errors);
  } catch (error) {
    progress.clearLine();
    if (exiting) {
      code = EXIT.stalledOrInternal;
    } else if (error instanceof CliError) {
      complain(error.message);
      code = error.exitCode;
    } else {
      complain(`internal error: ${oneLine(error)}`);
      if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      code = EXIT.stalledOrInternal;
    }
  }
  await exitAfterStop(code);
  // exitAfterStop exits; a signal that arrived first exits with its own code.
  return new Promise<never>(() => undefined);
}

await run();
