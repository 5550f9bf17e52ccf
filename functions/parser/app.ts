import type { S3Event } from 'aws-lambda';
import { loadConfig } from '../../shared/config';
import { lambdaHandler } from '../../shared/lambda/handler';
import { objectsOf } from '../../shared/lambda/s3Events';
import { ingestObject } from '../../shared/parser/ingestObject';
import { createDependencies } from '../../shared/dependencies';

const deps = createDependencies(loadConfig());

/** S3 ObjectCreated on incoming/ or plan/ → one job per object version, rows fanned out to SQS. */
export const handler = lambdaHandler(async (event: S3Event) => {
  const results = [];
  for (const object of objectsOf(event)) results.push(await ingestObject(deps, object));
  return results;
});
