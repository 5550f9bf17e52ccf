import { S3Schema } from '@aws-lambda-powertools/parser/schemas/s3';
import type { z } from 'zod';
import type { ObjectVersion } from '../contracts';

/** S3's notification to Lambda, as Powertools describes it. */
export const S3NotificationSchema = S3Schema;

/**
 * The objects an S3 notification says were created. Keys arrive URL-encoded with `+` for spaces
 * ("incoming/my+file%282%29.csv" is "incoming/my file(2).csv").
 */
export function createdObjects(event: z.output<typeof S3NotificationSchema>): ObjectVersion[] {
  return event.Records.filter((r) => r.eventName.startsWith('ObjectCreated')).map((r) => ({
    bucket: r.s3.bucket.name,
    key: decodeURIComponent(r.s3.object.key.replace(/\+/g, ' ')),
    size: r.s3.object.size,
    etag: r.s3.object.eTag,
    versionId: r.s3.object.versionId,
  }));
}
