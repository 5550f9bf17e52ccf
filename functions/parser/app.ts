import type { S3Event } from 'aws-lambda';
import { loadConfig } from '../../shared/config';
import { lambdaHandler } from '../../shared/framework/handler';
import { objectsOf } from '../../shared/framework/s3Events';
import { ingestObject } from '../../shared/ingest/parseObject';
import { createRuntime } from '../../shared/runtime';

const runtime = createRuntime(loadConfig());

/** S3 ObjectCreated on incoming/ or plan/ → one job per object version, rows fanned out to SQS. */
export const handler = lambdaHandler(async (event: S3Event) => {
  const results = [];
  for (const object of objectsOf(event)) results.push(await ingestObject(runtime, object));
  return results;
});
