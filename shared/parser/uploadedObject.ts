import { createHash } from 'node:crypto';
import type { ObjectVersion } from '../contracts';
import type { Mode } from '../domain/desiredRow';

/*
 * An uploaded object as the parser sees it: which job it is, which mode its prefix asks for, and
 * where its reports go. Pure: the same object version always gives the same answers.
 */

/** The object version a job is about, as the S3 notification (or the job's record) names it. */
export type ObjectRef = ObjectVersion;

export type IngestResult =
  | { status: 'ignored'; reason: string }
  | { status: 'duplicate'; jobId: string }
  | { status: 'failed'; jobId: string; reason: string }
  | {
      status: 'accepted';
      jobId: string;
      total: number;
      accepted: number;
      rejected: number;
      /** Reading + validating the file, and sending its rows, in ms. */
      timings: { validateMs: number; sendMs: number };
    };

export const MODE_PREFIXES: Record<string, Mode> = { 'incoming/': 'apply', 'plan/': 'plan' };

/** Which job an object version belongs to: the same version always maps to the same job. */
export function jobIdFor(ref: ObjectRef): string {
  return createHash('sha256')
    .update(`${ref.bucket}\n${ref.key}\n${ref.versionId ?? ''}\n${ref.etag ?? ''}`)
    .digest('hex')
    .slice(0, 24);
}

/**
 * A key as a safe relative path: no `.`/`..` segments, no control characters, only letters,
 * digits, spaces and `._()-` kept. Reports derived from it cannot land outside `results/`.
 */
export function safeRelativePath(relative: string): string {
  const segments = relative
    .normalize('NFC')
    .split('/')
    .map((segment) => segment.replace(/[\u0000-\u001f\u007f]/g, '').trim())
    .filter((segment) => segment !== '' && segment !== '.' && segment !== '..')
    .map((segment) => segment.replace(/[^\p{L}\p{N} ._()-]/gu, '_').replace(/^\.+/, '_').slice(0, 120));
  return segments.join('/') || 'file';
}

export function modeOf(key: string): { mode: Mode; relative: string } | undefined {
  for (const [prefix, mode] of Object.entries(MODE_PREFIXES)) {
    if (key.startsWith(prefix)) return { mode, relative: key.slice(prefix.length) };
  }
  return undefined;
}
