import { NumberLineIndex } from './numberIndex';

/** Every member is recorded at this "line": the index only needs a non-zero mark. */
const MEMBER = 1;

/**
 * A set of phone numbers at about 24 bytes each (a NumberLineIndex underneath), for sets too large
 * for a Set of strings, such as every number an export has written.
 */
export class NumberSet {
  private readonly index: NumberLineIndex;

  constructor(initialCapacity?: number) {
    this.index = new NumberLineIndex(initialCapacity);
  }

  get size(): number {
    return this.index.size;
  }

  add(dnis: string): void {
    this.index.claim(dnis, MEMBER);
  }

  has(dnis: string): boolean {
    return this.index.lineOf(dnis) !== 0;
  }
}
