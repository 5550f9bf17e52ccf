import type { S3Client } from '@aws-sdk/client-s3';
import { csvLine } from '../csv/writer';
import { type DriftFinding, type DriftKind, emptyDriftCounts } from '../domain/drift';
import type { UploadProgress } from '../store/exportCheckpoints';
import { DRIFT_HEADER, driftLine } from './csvLines';
import { PartUpload } from './partUpload';

export const DRIFT_CONTENT_TYPE = 'text/csv; charset=utf-8';
/** The report's first line; it opens the tail of a report no invocation has written to yet. */
export const DRIFT_HEADER_LINE = csvLine(DRIFT_HEADER);

/**
 * The drift CSV, written into its own multipart upload while the export is read, so it is never
 * held whole whatever the inventory size; and the count of findings by kind, for the manifest.
 * Like the export file it continues across invocations (partUpload.ts).
 */
export class DriftReport {
  private constructor(
    private readonly upload: PartUpload,
    readonly counts: Record<DriftKind, number>,
  ) {}

  /** The report as the last committed step left it (a new upload: its header as the tail). */
  static open(s3: S3Client, target: { bucket: string; key: string }, progress: UploadProgress, tail: Buffer, counts: Record<string, number>): DriftReport {
    return new DriftReport(PartUpload.resume(s3, { ...target, contentType: DRIFT_CONTENT_TYPE }, progress, tail), { ...emptyDriftCounts(), ...counts });
  }

  add(finding: DriftFinding): void {
    this.counts[finding.kind] += 1;
    this.upload.write(driftLine(finding));
  }

  flush(): Promise<void> {
    return this.upload.flush();
  }

  get state(): UploadProgress {
    return this.upload.state;
  }

  get tail(): Buffer {
    return this.upload.tail;
  }

  finish(): Promise<'completed' | 'completed-before'> {
    return this.upload.complete();
  }
}
