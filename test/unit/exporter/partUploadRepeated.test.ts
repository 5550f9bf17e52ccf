import { CompleteMultipartUploadCommand, HeadObjectCommand, NoSuchUpload, NotFound, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { isNoSuchUpload, PART_BYTES, PartUpload } from '../../../shared/exporter/partUpload';

/**
 * S3 after an earlier attempt of the same step completed the upload: UploadPart and
 * CompleteMultipartUpload answer NoSuchUpload (as S3 and fauxqs do), HeadObject describes whatever
 * is stored at the key.
 */
function s3AfterCompletion(stored: { ContentLength: number } | 'absent' | Error) {
  const sent: string[] = [];
  const s3 = {
    async send(command: unknown) {
      sent.push((command as object).constructor.name);
      if (command instanceof UploadPartCommand || command instanceof CompleteMultipartUploadCommand) {
        throw new NoSuchUpload({ message: 'The specified multipart upload does not exist.', $metadata: { httpStatusCode: 404 } });
      }
      if (command instanceof HeadObjectCommand) {
        if (stored === 'absent') throw new NotFound({ message: 'UnknownError', $metadata: { httpStatusCode: 404 } });
        if (stored instanceof Error) throw stored;
        return stored;
      }
      throw new Error(`unexpected ${String(command)}`);
    },
  } as unknown as S3Client;
  return { s3, sent };
}

const target = { bucket: 'b', key: 'exports/file.csv', contentType: 'text/csv' };
/** Two committed parts (every part but the last is PART_BYTES) and a tail of 11 bytes. */
const progress = { uploadId: 'upload-1', parts: [1, 2].map((n) => ({ partNumber: n, etag: `"etag-${n}"` })) };
const tail = Buffer.from('+1212555010');
const fileBytes = 2 * PART_BYTES + tail.length;

describe('PartUpload.complete on an upload S3 no longer has', () => {
  it('finds the object an earlier attempt completed when it has exactly this upload length', async () => {
    const { s3, sent } = s3AfterCompletion({ ContentLength: fileBytes });
    expect(await PartUpload.resume(s3, target, progress, tail).complete()).toBe('completed-before');
    expect(sent).toEqual(['UploadPartCommand', 'HeadObjectCommand']);
  });

  it('counts a tail longer than a part, sent as a part on completion, in the length expected', async () => {
    const longTail = Buffer.alloc(PART_BYTES + 7, 'x');
    const { s3, sent } = s3AfterCompletion({ ContentLength: 2 * PART_BYTES + longTail.length });
    expect(await PartUpload.resume(s3, target, progress, longTail).complete()).toBe('completed-before');
    expect(sent).toEqual(['UploadPartCommand', 'HeadObjectCommand']);
  });

  it('fails when the upload is gone and nothing is stored (aborted by the lifecycle rule)', async () => {
    const { s3 } = s3AfterCompletion('absent');
    await expect(PartUpload.resume(s3, target, progress, tail).complete()).rejects.toThrow(/multipart upload of exports\/file.csv is gone/);
  });

  it('fails when the object stored is not the length this upload makes', async () => {
    const { s3 } = s3AfterCompletion({ ContentLength: fileBytes - 1 });
    await expect(PartUpload.resume(s3, target, progress, tail).complete()).rejects.toThrow(/is not the one this step writes/);
  });

  it('passes on any other error of HeadObject', async () => {
    const denied = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    const { s3 } = s3AfterCompletion(denied);
    await expect(PartUpload.resume(s3, target, progress, tail).complete()).rejects.toBe(denied);
  });

  it('passes on any other error of the upload itself', async () => {
    const throttled = Object.assign(new Error('Slow Down'), { name: 'SlowDown' });
    const s3 = { send: async () => Promise.reject(throttled) } as unknown as S3Client;
    await expect(PartUpload.resume(s3, target, progress, tail).complete()).rejects.toBe(throttled);
  });

  it('tells NoSuchUpload by its name', () => {
    expect(isNoSuchUpload(new NoSuchUpload({ message: 'gone', $metadata: {} }))).toBe(true);
    expect(isNoSuchUpload(Object.assign(new Error('gone'), { name: 'NoSuchUpload' }))).toBe(true);
    expect(isNoSuchUpload(new NotFound({ message: 'gone', $metadata: {} }))).toBe(false);
    expect(isNoSuchUpload(undefined)).toBe(false);
  });
});
