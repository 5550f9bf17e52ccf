import { basename, extname } from 'node:path';

export interface InputFile {
  /** As the user gave it. */
  path: string;
  /** The S3 key it is uploaded as. */
  key: string;
  /** The folder under --out that receives its reports. */
  reportsName: string;
  /** Set when the name had to change to stay apart from another input. */
  renamedFrom?: string;
}

/** The export writes into <out>/export; no input may put its reports there. */
const RESERVED = ['export'];

/**
 * One S3 key and one reports folder per input. Two `a.csv` from different folders would otherwise
 * overwrite each other's upload and reports, so later ones become `a-2.csv`, `a-3.csv`, ...
 */
export function planInputs(files: readonly string[], prefix: 'incoming' | 'plan'): InputFile[] {
  const taken = new Set(RESERVED);
  return files.map((path) => {
    const name = basename(path);
    const extension = extname(name);
    const stem = name.slice(0, name.length - extension.length) || name;
    let candidate = stem;
    for (let n = 2; taken.has(candidate.toLowerCase()); n++) candidate = `${stem}-${n}`;
    taken.add(candidate.toLowerCase());
    const uploaded = `${candidate}${extension}`;
    return {
      path,
      key: `${prefix}/${uploaded}`,
      reportsName: candidate,
      ...(candidate !== stem ? { renamedFrom: name } : {}),
    };
  });
}
