/**
 * The most requests any window of `windowMs` holds, from their timestamps in any order: what a
 * sliding-window rate limit such as RingCX's counts. For benchmarks and tests that check a budget
 * was kept.
 */
export function maxInAnyWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let max = 0;
  for (let end = 0, start = 0; end < sorted.length; end++) {
    while ((sorted[end] as number) - (sorted[start] as number) >= windowMs) start++;
    max = Math.max(max, end - start + 1);
  }
  return max;
}
