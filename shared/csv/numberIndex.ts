/**
 * Remembers which line first declared each number, for "duplicate of line N". Numbers are at most
 * 15 digits, so they fit a float64 exactly; an open-addressing table of typed arrays costs about
 * 24 bytes per number instead of the ~100 of a Map of strings, which keeps a million-row file small.
 */
export class NumberLineIndex {
  private keys: Float64Array;
  private lines: Uint32Array;
  private used = 0;

  constructor(initialCapacity = 1 << 12) {
    const capacity = 1 << Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.keys = new Float64Array(capacity);
    this.lines = new Uint32Array(capacity);
  }

  get size(): number {
    return this.used;
  }

  /** Records the number at `line` and returns 0, or returns the line that already holds it. */
  claim(dnis: string, line: number): number {
    if (this.used * 2 >= this.keys.length) this.grow();
    const key = Number(dnis);
    const mask = this.keys.length - 1;
    for (let slot = hash(key) & mask; ; slot = (slot + 1) & mask) {
      const existing = this.lines[slot] as number;
      if (existing === 0) {
        this.keys[slot] = key;
        this.lines[slot] = line;
        this.used += 1;
        return 0;
      }
      if (this.keys[slot] === key) return existing;
    }
  }

  /** The line that holds the number, or 0 when none does; records nothing. */
  lineOf(dnis: string): number {
    const key = Number(dnis);
    const mask = this.keys.length - 1;
    for (let slot = hash(key) & mask; ; slot = (slot + 1) & mask) {
      const existing = this.lines[slot] as number;
      if (existing === 0 || this.keys[slot] === key) return existing;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldLines = this.lines;
    this.keys = new Float64Array(oldKeys.length * 2);
    this.lines = new Uint32Array(oldLines.length * 2);
    const mask = this.keys.length - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      const line = oldLines[i] as number;
      if (line === 0) continue;
      const key = oldKeys[i] as number;
      let slot = hash(key) & mask;
      while (this.lines[slot] !== 0) slot = (slot + 1) & mask;
      this.keys[slot] = key;
      this.lines[slot] = line;
    }
  }
}

function hash(key: number): number {
  // Mix the high and low halves; phone numbers differ mostly in their last digits.
  const low = key % 4294967296;
  const high = Math.floor(key / 4294967296);
  let h = Math.imul(low ^ (high * 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
