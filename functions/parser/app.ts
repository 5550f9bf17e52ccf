import { loadFunctionConfig, ParserConfigSchema } from '../../shared/config';
import { createDependencies } from '../../shared/dependencies';
import { s3ObjectsHandler } from '../../shared/lambda/handler';
import { ingestObject } from '../../shared/parser/ingestObject';

const deps = createDependencies(loadFunctionConfig(ParserConfigSchema));

/** S3 ObjectCreated on incoming/, plan/ or approved/ → one job per object version, rows fanned out to SQS. */
export const handler = s3ObjectsHandler(deps, async (objects, rt) => {
  const results = [];
  for (const object of objects) results.push(await ingestObject(rt, object));
  return results;
});
