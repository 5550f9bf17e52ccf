/**
 * One version of one S3 object: what an S3 notification names, what a job is about, and what
 * its job id is derived from.
 */
export interface ObjectVersion {
  bucket: string;
  /** The decoded key (S3 notifications carry it URL-encoded). */
  key: string;
  versionId?: string | undefined;
  etag?: string | undefined;
  /** As the notification reported it; lets the parser refuse an oversized file before reading it. */
  size?: number | undefined;
}
