/**
 * Runs in its own process so that its peak RSS is the parser's alone (the emulators live in the
 * parent). Reads the benchmark file from S3 (fauxqs) twice: once through bare csv-parse, once
 * through the real parser service; SQS sends are counted, not stored, so the emulator's memory and
 * speed stay out of the measurement.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { parse } from 'csv-parse';
import { createAwsClients } from '../shared/aws/clients';
import { loadConfig } from '../shared/config';
import { ingestObject } from '../shared/parser/ingestObject';
import { createDependencies } from '../shared/dependencies';

const config = loadConfig();
const bucket = config.BUCKET_NAME;
const key = process.env.BENCH_KEY as string;
const aws = createAwsClients(config);
let messages = 0;
const countingSqs = {
  send: async (command: { input: { Entries?: unknown[] } }) => {
    const entries = command.input.Entries ?? [];
    messages += entries.length;
    return { Successful: entries.map((_, i) => ({ Id: String(i) })), Failed: [] };
  },
} as unknown as SQSClient;

const mode = process.argv[2];
const started = performance.now();
let rows = 0;
let timings: { validateMs: number; sendMs: number } | undefined;
if (mode === 'baseline') {
  const object = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const parser = (object.Body as NodeJS.ReadableStream).pipe(parse({ relax_column_count: true }));
  for await (const _ of parser) rows += 1;
  rows -= 1;
} else {
  const rt = createDependencies(config, { aws: { ...aws, sqs: countingSqs } });
  const head = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-0' }));
  const etag = head.ETag?.replace(/"/g, '');
  const result = await ingestObject(rt, { bucket, key, etag });
  if (result.status !== 'accepted') throw new Error(`parser did not accept the file: ${JSON.stringify(result)}`);
  rows = result.total;
  timings = result.timings;
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ mode, rows, messages, seconds, timings, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
process.exit(0);
