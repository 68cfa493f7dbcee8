/**
 * Times `fn` back to back: `n` calls in a plain loop, the mean per call, after a warm-up.
 * A harness that times each call on its own (tinybench's per-iteration samples) adds a
 * turn of the event loop around every call, which costs a contender built on thread-pool
 * round trips several times more than one that stays on the main thread, and so
 * inflated the ratios this bench used to report. Here every contender is timed alike,
 * as a program calling it in a loop would see it.
 */
export async function loopMeanUs(fn: () => unknown, n: number): Promise<number> {
  for (let i = 0; i < Math.min(n, 2_000); i++) await fn();
  const started = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - started) * 1000) / n;
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The `p`-th percentile (0..100) of `xs`. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
