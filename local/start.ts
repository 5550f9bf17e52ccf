/**
 * `npm start`: the whole pipeline on this machine. Emulators stand in for AWS, the simulator for
 * RingCX (unless RINGCX_BASE_URL points at a real one), and the unchanged Lambda handlers run with
 * local event delivery. Results land in a local folder.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Context, S3Event, SQSEvent, SQSBatchResponse } from 'aws-lambda';
import { startLocalStack } from './stack';
import { LocalRunner } from './wiring/runner';

const HELP = `dnis-sync, locally: CSV in, RingCX numbers provisioned, reports out.

Usage:
  npm start                                         run the example file (examples/numbers.csv), then export
  npm start -- [--plan] [--out DIR] FILE.csv...     run your own files, then export
  npm start -- --reassign DNIS --to TYPE:ID [--expect TYPE:ID|none] [--by WHO] [--reason WHY]
                                                    move one number through the event bus
  npm start -- --help

Options:
  --plan        dry run: read RingCX, change nothing, report what would happen
  --out DIR     where reports go (default: out/<timestamp>)
  --no-export   skip the export and drift report after the files
  --verbose     show the functions' JSON logs
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
  RINGCX_REQUESTS_PER_WINDOW  request budget per minute (default 120, RingCX's documented limit)

Against a real tenant, start with --plan: an apply run changes live call routing.
Files are uploaded to incoming/ (or plan/ with --plan) in a local bucket, exactly as in AWS.`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    plan: { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-export': { type: 'boolean', default: false },
    reassign: { type: 'string' },
    to: { type: 'string' },
    expect: { type: 'string' },
    by: { type: 'string', default: `local:${process.env.USER ?? 'operator'}` },
    reason: { type: 'string', default: 'requested with npm start --reassign' },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const files = positionals.length > 0 ? positionals : ['examples/numbers.csv'];
const outDir = resolve(values.out ?? join('out', new Date().toISOString().replace(/[:.]/g, '-')));
const realRingCx = process.env.RINGCX_BASE_URL;
if (realRingCx && !process.env.RINGCX_SECRET_JSON) {
  console.error('RINGCX_BASE_URL is set but RINGCX_SECRET_JSON is not: give the credentials as JSON (see --help).');
  process.exit(2);
}
if (!values.verbose) process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';

const stack = await startLocalStack({
  ...(realRingCx ? { ringcx: { baseUrl: realRingCx, secretJson: process.env.RINGCX_SECRET_JSON as string } } : {}),
  visibilityTimeoutSeconds: 5,
  env: {
    ...(process.env.RINGCX_DEFAULT_ACCOUNT_ID ? { RINGCX_DEFAULT_ACCOUNT_ID: process.env.RINGCX_DEFAULT_ACCOUNT_ID } : {}),
    RINGCX_REQUESTS_PER_WINDOW: process.env.RINGCX_REQUESTS_PER_WINDOW ?? '120',
  },
});
Object.assign(process.env, stack.env);
const parser = (await import('../functions/parser/app')).handler as unknown as (event: S3Event, context: Context) => Promise<unknown>;
const worker = (await import('../functions/worker/app')).handler as unknown as (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
const intake = (await import('../functions/reassign-intake/app')).handler as unknown as (event: never, context: Context) => Promise<unknown>;
const exporter = (await import('../functions/exporter/app')).handler as unknown as (event: unknown, context: Context) => Promise<unknown>;
const refresher = (await import('../functions/token-refresher/app')).handler as unknown as (event: unknown, context: Context) => Promise<unknown>;
const runner = new LocalRunner(stack, { parser, worker, intake, exporter, refresher });

function target(spec: string | undefined, flag: string) {
  const match = /^([a-z_]+):(\d+)$/i.exec(spec ?? '');
  if (!match) {
    console.error(`${flag} takes TYPE:ID, e.g. queue:4503 (see --help)`);
    process.exit(2);
  }
  return { type: match[1] as string, id: Number(match[2]) };
}

console.log(realRingCx ? `RingCX: ${realRingCx}` : `RingCX simulator (demo tenant): ${stack.simulator?.url}`);
mkdirSync(outDir, { recursive: true });
let exitCode = 0;
try {
  runner.start();
  if (values.reassign) {
    const detail = {
      dnis: values.reassign,
      target: target(values.to, '--to'),
      requestedBy: values.by,
      reason: values.reason,
      ...(values.expect ? { expectedCurrentTarget: values.expect === 'none' ? null : target(values.expect, '--expect') } : {}),
    };
    const answer = await runner.reassign(detail);
    console.log(`${answer.detailType}: ${JSON.stringify(answer.detail, null, 2)}`);
    if (answer.detailType !== 'DNIS Reassigned') exitCode = 1;
  }
  for (const file of values.reassign ? positionals : files) {
    const key = `${values.plan ? 'plan' : 'incoming'}/${basename(file)}`;
    const job = await runner.runFile(key, readFileSync(file), (line) => process.stdout.write(`\r${line}`));
    process.stdout.write('\n');
    const base = join(outDir, basename(file).replace(/\.csv$/i, ''));
    mkdirSync(base, { recursive: true });
    for (const [name, content] of Object.entries(job.reports)) writeFileSync(join(base, name), content);
    console.log(job.table);
    console.log(`Reports for ${file}:`);
    for (const name of Object.keys(job.reports)) console.log(`  ${join(base, name)}`);
    if (job.summary.status === 'failed') exitCode = 1;
  }
  if (!values.reassign && !values['no-export']) {
    const { manifest, files: exported } = await runner.runExport();
    const base = join(outDir, 'export');
    mkdirSync(base, { recursive: true });
    for (const [name, content] of Object.entries(exported)) writeFileSync(join(base, name), content);
    const drift = manifest.drift as Record<string, number>;
    console.log(`Export: ${manifest.numbers} numbers, ${manifest.apiCalls} RingCX calls; drift: ${Object.entries(drift).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    for (const name of Object.keys(exported)) console.log(`  ${join(base, name)}`);
  }
} finally {
  await runner.stop();
  await stack.stop();
}
process.exit(exitCode);
