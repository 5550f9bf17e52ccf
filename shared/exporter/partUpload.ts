import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import type { UploadProgress } from '../store/exportCheckpoints';

/** S3's smallest part but the last: a part is sent only once this much is buffered. */
export const PART_BYTES = 5 * 1024 * 1024;

export interface UploadTarget {
  bucket: string;
  key: string;
  contentType: string;
}

/**
 * One file written into an S3 multipart upload across invocations. Text is buffered and sent in
 * parts of exactly PART_BYTES; whatever is buffered when an invocation stops (the `tail`, less than
 * a part) is carried to the next invocation by the caller, because S3 refuses a short part anywhere
 * but at the end. The upload is never aborted on a failure: the step is retried from its
 * checkpoint, and the bucket's lifecycle rule aborts uploads nobody completes.
 */
export class PartUpload {
  private chunks: Buffer[] = [];
  private buffered = 0;

  private constructor(
    private readonly s3: S3Client,
    private readonly target: UploadTarget,
    private readonly progress: UploadProgress,
    tail: Buffer,
  ) {
    if (tail.length > 0) this.append(tail);
  }

  static async begin(s3: S3Client, target: UploadTarget): Promise<PartUpload> {
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: target.bucket, Key: target.key, ContentType: target.contentType }));
    if (!created.UploadId) throw new Error(`S3 gave no upload id for ${target.key}`);
    return new PartUpload(s3, target, { uploadId: created.UploadId, parts: [] }, Buffer.alloc(0));
  }

  /** Continues an upload from its committed parts and the tail the last invocation carried. */
  static resume(s3: S3Client, target: UploadTarget, progress: UploadProgress, tail: Buffer): PartUpload {
    return new PartUpload(s3, target, { uploadId: progress.uploadId, parts: [...progress.parts] }, tail);
  }

  write(text: string): void {
    if (text.length > 0) this.append(Buffer.from(text, 'utf8'));
  }

  /** Sends every full part buffered. */
  async flush(): Promise<void> {
    while (this.buffered >= PART_BYTES) {
      const all = Buffer.concat(this.chunks);
      await this.sendPart(all.subarray(0, PART_BYTES));
      const rest = all.subarray(PART_BYTES);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
  }

  /** The committed parts, for the checkpoint. Call after flush(). */
  get state(): UploadProgress {
    return { uploadId: this.progress.uploadId, parts: [...this.progress.parts] };
  }

  /** What is buffered beyond the committed parts (less than a part after flush()). */
  get tail(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /**
   * Sends the tail as the last part and completes the object. `completed-before`: S3 no longer
   * knows the upload and the object is stored with exactly this upload's length, so an earlier
   * attempt of the same step completed it (see `storedLengthMatches`).
   */
  async complete(): Promise<'completed' | 'completed-before'> {
    // Every part but the last is exactly PART_BYTES, so the length the object will have is known
    // before anything is sent.
    const expectedBytes = this.progress.parts.length * PART_BYTES + this.buffered;
    try {
      await this.flush();
      if (this.buffered > 0 || this.progress.parts.length === 0) await this.sendPart(this.tail);
      this.chunks = [];
      this.buffered = 0;
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.target.bucket,
          Key: this.target.key,
          UploadId: this.progress.uploadId,
          MultipartUpload: { Parts: this.progress.parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      );
      return 'completed';
    } catch (error) {
      if (!isNoSuchUpload(error)) throw error;
      if (await this.storedLengthMatches(expectedBytes)) return 'completed-before';
      throw new Error(`the multipart upload of ${this.target.key} is gone (aborted, or completed as a different file) and the object is not the one this step writes`, { cause: error });
    }
  }

  /**
   * After NoSuchUpload (on the tail's part or on the completion: S3 forgets an upload once it is
   * completed or aborted), whether the object at the key is this upload completed. The caller
   * completes an upload only once its parts and tail are recorded (the export's final counts,
   * exportCheckpoints.ts), and CompleteMultipartUpload is atomic, so an object there can only be
   * these parts and this tail; the length check tells it from an upload the bucket's lifecycle rule
   * aborted (no object) or anything else written to the key.
   */
  private async storedLengthMatches(expectedBytes: number): Promise<boolean> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.target.bucket, Key: this.target.key }));
      return head.ContentLength === expectedBytes;
    } catch (error) {
      if ((error as { name?: string }).name === 'NotFound') return false;
      throw error;
    }
  }

  private append(bytes: Buffer): void {
    this.chunks.push(bytes);
    this.buffered += bytes.length;
  }

  private async sendPart(body: Buffer): Promise<void> {
    const partNumber = this.progress.parts.length + 1;
    const sent = await this.s3.send(new UploadPartCommand({ Bucket: this.target.bucket, Key: this.target.key, UploadId: this.progress.uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length }));
    if (!sent.ETag) throw new Error(`S3 gave no ETag for part ${partNumber} of ${this.target.key}`);
    this.progress.parts.push({ partNumber, etag: sent.ETag });
  }
}

/**
 * S3's answer to UploadPart or CompleteMultipartUpload on an upload it no longer has (404
 * NoSuchUpload). fauxqs 1.9.2, the emulator the tests use, answers the same for both, with the
 * SDK's typed `NoSuchUpload`; the name is checked, not the class, so a second copy of the SDK
 * in a bundle still matches.
 */
export function isNoSuchUpload(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === 'NoSuchUpload';
}

/** The sha256 of an object as stored, read back whole (a stream: never held in memory). */
export async function sha256OfObject(s3: S3Client, bucket: string, key: string): Promise<string> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of object.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
