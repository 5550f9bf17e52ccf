import type { S3Event } from 'aws-lambda';
import { z } from 'zod';
import type { ObjectRef } from '../parser/ingestObject';

const S3EventSchema = z.object({
  Records: z.array(
    z.object({
      eventName: z.string(),
      s3: z.object({
        bucket: z.object({ name: z.string() }),
        object: z.object({
          key: z.string(),
          size: z.number().optional(),
          eTag: z.string().optional(),
          versionId: z.string().optional(),
        }),
      }),
    }),
  ),
});

/**
 * The objects an S3 notification names. Keys arrive URL-encoded with `+` for spaces
 * ("incoming/my+file%282%29.csv" is "incoming/my file(2).csv").
 */
export function objectsOf(event: S3Event): ObjectRef[] {
  const parsed = S3EventSchema.parse(event);
  return parsed.Records.filter((r) => r.eventName.startsWith('ObjectCreated')).map((r) => ({
    bucket: r.s3.bucket.name,
    key: decodeURIComponent(r.s3.object.key.replace(/\+/g, ' ')),
    size: r.s3.object.size,
    etag: r.s3.object.eTag,
    versionId: r.s3.object.versionId,
  }));
}
