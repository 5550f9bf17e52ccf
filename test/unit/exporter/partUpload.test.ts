import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, type S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ExportedNumbers, loadCarriedState, saveCarriedState } from '../../../shared/exporter/carriedState';
import { PART_BYTES, PartUpload } from '../../../shared/exporter/partUpload';

/** Just enough of S3 for these two files: multipart uploads, puts and gets, in memory. */
function fakeS3() {
  const parts = new Map<number, Buffer>();
  const objects = new Map<string, Buffer>();
  const completed: { partNumber: number; etag: string }[][] = [];
  const s3 = {
    async send(command: unknown) {
      if (command instanceof CreateMultipartUploadCommand) return { UploadId: 'upload-1' };
      if (command instanceof UploadPartCommand) {
        const body = command.input.Body as Buffer;
        parts.set(command.input.PartNumber as number, Buffer.from(body));
        return { ETag: `"etag-${command.input.PartNumber}-${body.length}"` };
      }
      if (command instanceof CompleteMultipartUploadCommand) {
        const list = command.input.MultipartUpload?.Parts ?? [];
        completed.push(list.map((p) => ({ partNumber: p.PartNumber as number, etag: p.ETag as string })));
        objects.set(command.input.Key as string, Buffer.concat(list.map((p) => parts.get(p.PartNumber as number) as Buffer)));
        return {};
      }
      if (command instanceof PutObjectCommand) {
        objects.set(command.input.Key as string, Buffer.from(command.input.Body as Buffer));
        return {};
      }
      if (command instanceof GetObjectCommand) {
        const body = objects.get(command.input.Key as string) as Buffer;
        return { Body: { transformToByteArray: async () => new Uint8Array(body) } };
      }
      throw new Error(`unexpected ${String(command)}`);
    },
  } as unknown as S3Client;
  return { s3, parts, objects, completed };
}

const target = { bucket: 'b', key: 'exports/file.csv', contentType: 'text/csv' };

describe('PartUpload', () => {
  it('sends only full 5 MiB parts until the end, and carries the rest across invocations', async () => {
    const { s3, parts, objects, completed } = fakeS3();
    const line = `${'x'.repeat(99)}\n`;
    const first = await PartUpload.begin(s3, target);
    for (let i = 0; i < 60_000; i++) first.write(line);
    await first.flush();
    // 6,000,000 bytes: one part, and the rest (under a part) left for the next invocation.
    expect([...parts.values()].map((p) => p.length)).toEqual([PART_BYTES]);
    expect(first.tail.length).toBe(6_000_000 - PART_BYTES);

    const second = PartUpload.resume(s3, target, first.state, first.tail);
    for (let i = 0; i < 60_000; i++) second.write(line);
    await second.flush();
    expect([...parts.values()].map((p) => p.length)).toEqual([PART_BYTES, PART_BYTES]);
    await second.complete();
    expect([...parts.values()].map((p) => p.length)).toEqual([PART_BYTES, PART_BYTES, 12_000_000 - 2 * PART_BYTES]);
    expect(completed).toEqual([[1, 2, 3].map((n) => ({ partNumber: n, etag: `"etag-${n}-${parts.get(n)?.length}"` }))]);
    expect(objects.get(target.key)?.toString()).toBe(line.repeat(120_000));
  });

  it('sends a file smaller than a part as its one, last part', async () => {
    const { s3, parts, objects } = fakeS3();
    const upload = PartUpload.resume(s3, target, (await PartUpload.begin(s3, target)).state, Buffer.from('dnis\n'));
    upload.write('+12125550100\n');
    await upload.complete();
    expect(parts.size).toBe(1);
    expect(objects.get(target.key)?.toString()).toBe('dnis\n+12125550100\n');
  });
});

describe('carried state', () => {
  it('round-trips the exported numbers, tracking groups and both tails through one object', async () => {
    const { s3 } = fakeS3();
    const exported = new ExportedNumbers();
    const numbers = Array.from({ length: 40_000 }, (_, i) => String(16_462_000_000 + i * 7));
    for (const dnis of numbers) expect(exported.add(dnis)).toBe(true);
    expect(exported.add(numbers[5] as string)).toBe(false);
    exported.add('4312125550101');
    const state = { exported, tracking: new Map([['12125550137', '901:Spring campaign']]), exportTail: Buffer.from('tail,"é"\n'), driftTail: Buffer.from('') };
    await saveCarriedState(s3, 'b', 'exports/checkpoints/x/step-1.bin', state);
    const loaded = await loadCarriedState(s3, 'b', 'exports/checkpoints/x/step-1.bin');
    expect(loaded.exported.size).toBe(40_001);
    expect(numbers.every((dnis) => loaded.exported.has(dnis))).toBe(true);
    expect(loaded.exported.has('4312125550101')).toBe(true);
    expect(loaded.exported.has('16462000001')).toBe(false);
    expect(loaded.tracking).toEqual(state.tracking);
    expect(loaded.exportTail.toString()).toBe('tail,"é"\n');
    expect(loaded.driftTail.length).toBe(0);
  });
});
