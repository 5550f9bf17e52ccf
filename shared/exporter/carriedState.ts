import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { NumberSet } from '../csv/numberSet';

/**
 * Every number the export has written so far: a NumberSet to ask "already exported?" (a page
 * re-read after the inventory shifted, "declared but missing" at the end), and the same numbers in
 * a Float64Array (8 bytes each, exact for 15 digits) so they can be carried to the next invocation.
 */
export class ExportedNumbers {
  private readonly set: NumberSet;
  private list: Float64Array;
  private count = 0;

  constructor(saved?: Float64Array) {
    this.set = new NumberSet(Math.max(1 << 14, (saved?.length ?? 0) * 2));
    this.list = new Float64Array(Math.max(1 << 14, saved?.length ?? 0));
    for (const value of saved ?? []) this.add(String(value));
  }

  get size(): number {
    return this.count;
  }

  has(dnis: string): boolean {
    return this.set.has(dnis);
  }

  /** False when the number was exported already. */
  add(dnis: string): boolean {
    if (this.set.has(dnis)) return false;
    this.set.add(dnis);
    if (this.count === this.list.length) {
      const grown = new Float64Array(this.list.length * 2);
      grown.set(this.list);
      this.list = grown;
    }
    this.list[this.count++] = Number(dnis);
    return true;
  }

  toArray(): Float64Array {
    return this.list.subarray(0, this.count);
  }
}

/** What an invocation hands the next one beside its checkpoint item: too large for DynamoDB. */
export interface CarriedState {
  exported: ExportedNumbers;
  /** Tracking group (`id:name`) by number, read once at the start of the export. */
  tracking: Map<string, string>;
  /** The export file's and the drift report's buffered text beyond their committed parts. */
  exportTail: Buffer;
  driftTail: Buffer;
}

/*
 * The object: a 4-byte length, a JSON header (tracking groups and section lengths), the two tails,
 * then the exported numbers as little-endian float64s. 250,000 numbers are 2 MB.
 */

export async function saveCarriedState(s3: S3Client, bucket: string, key: string, state: CarriedState): Promise<void> {
  const numbers = state.exported.toArray();
  const header = Buffer.from(JSON.stringify({ tracking: [...state.tracking], exportTail: state.exportTail.length, driftTail: state.driftTail.length, numbers: numbers.length }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const body = Buffer.concat([length, header, state.exportTail, state.driftTail, Buffer.from(numbers.buffer, numbers.byteOffset, numbers.byteLength)]);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentType: 'application/octet-stream' }));
}

export async function loadCarriedState(s3: S3Client, bucket: string, key: string): Promise<CarriedState> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const body = Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  const headerLength = body.readUInt32LE(0);
  const header = JSON.parse(body.subarray(4, 4 + headerLength).toString('utf8')) as { tracking: [string, string][]; exportTail: number; driftTail: number; numbers: number };
  let at = 4 + headerLength;
  const take = (bytes: number) => Buffer.from(body.subarray(at, (at += bytes)));
  const exportTail = take(header.exportTail);
  const driftTail = take(header.driftTail);
  // Copied into an aligned buffer: a Float64Array cannot view an odd offset.
  const numbers = new Float64Array(new Uint8Array(take(header.numbers * 8)).buffer);
  return { exported: new ExportedNumbers(numbers), tracking: new Map(header.tracking), exportTail, driftTail };
}
