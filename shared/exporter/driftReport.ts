import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { uploadLines } from '../aws/s3Text';
import { csvLine } from '../csv/writer';
import { type DriftFinding, type DriftKind, emptyDriftCounts } from '../domain/drift';
import { DRIFT_HEADER, driftLine } from './csvLines';

/**
 * The drift CSV, streamed into its own multipart upload while the export is read, so it is never
 * held whole whatever the inventory size; and the count of findings by kind, for the manifest.
 */
export class DriftReport {
  readonly counts: Record<DriftKind, number> = emptyDriftCounts();
  private readonly stream = new PassThrough();
  private readonly upload: Promise<unknown>;

  constructor(s3: S3Client, target: { bucket: string; key: string }) {
    this.upload = uploadLines(s3, { ...target, contentType: 'text/csv; charset=utf-8' }, this.stream);
  }

  async start(): Promise<void> {
    await this.write(csvLine(DRIFT_HEADER));
  }

  async add(finding: DriftFinding): Promise<void> {
    this.counts[finding.kind] += 1;
    await this.write(driftLine(finding));
  }

  async finish(): Promise<void> {
    this.stream.end();
    await this.upload;
  }

  /** Aborts the upload too, rather than leave it waiting for lines that will never come. */
  async abort(error: Error): Promise<void> {
    this.stream.destroy(error);
    await this.upload.catch(() => undefined);
  }

  private async write(line: string): Promise<void> {
    if (!this.stream.write(line)) await once(this.stream, 'drain');
  }
}
