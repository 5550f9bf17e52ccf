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
  npm start                                  run the example file (examples/numbers.csv)
  npm start -- [--plan] [--out DIR] FILE.csv...   run your own files
  npm start -- --help

Options:
  --plan        dry run: read RingCX, change nothing, report what would happen
  --out DIR     where reports go (default: out/<timestamp>)
  --verbose     show the functions' JSON logs

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
const runner = new LocalRunner(stack, { parser, worker });

console.log(realRingCx ? `RingCX: ${realRingCx}` : `RingCX simulator (demo tenant): ${stack.simulator?.url}`);
mkdirSync(outDir, { recursive: true });
let exitCode = 0;
try {
  runner.start();
  for (const file of files) {
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
} finally {
  await runner.stop();
  await stack.stop();
}
process.exit(exitCode);
