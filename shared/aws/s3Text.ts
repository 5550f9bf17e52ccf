import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

/**
 * Streams generated text to S3 with a multipart upload: the body is never held whole, so a
 * 250,000-row report or a 100,000-number export costs one part buffer of memory.
 */
export async function uploadLines(
  s3: S3Client,
  target: { bucket: string; key: string; contentType: string },
  lines: AsyncIterable<string> | Iterable<string> | Readable,
): Promise<void> {
  const upload = new Upload({
    client: s3,
    params: {
      Bucket: target.bucket,
      Key: target.key,
      Body: lines instanceof Readable ? lines : Readable.from(lines, { objectMode: false }),
      ContentType: target.contentType,
    },
    queueSize: 2,
    partSize: 5 * 1024 * 1024,
  });
  await upload.done();
}
