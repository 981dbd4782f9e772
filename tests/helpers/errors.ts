// Error measures without vitest, so browser suites (which run in Chromium, not under vitest) can compute them too.

/** Sample standard deviation (n - 1), as tests/helpers/compare.ts's stats(). */
export function stdOf(x: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i];
  const mean = sum / x.length;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i] - mean) ** 2;
  return Math.sqrt(ss / Math.max(1, x.length - 1));
}

/** max|a - b|; a NaN anywhere or a length mismatch gives Infinity (a failure, never a pass). */
export function maxAbsDiffOf(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** max|a - b| / max(1, max|ref|): the kernel tests' normalized error. */
export function normErr(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  let amax = 0;
  for (let i = 0; i < ref.length; i++) amax = Math.max(amax, Math.abs(ref[i]));
  return maxAbsDiffOf(ours, ref) / Math.max(1, amax);
}

/** One golden comparison: max|d|, the reference's std, and the bar it must meet. */
export interface GoldenErr {
  key: string;
  n: number;
  maxAbs: number;
  std: number;
  bar: number;
}

/** max|d| against rel x max(1, std(ref)) (or rel x std(ref) when `plainStd`). */
export function goldenErr(key: string, ours: ArrayLike<number>, ref: ArrayLike<number>, rel: number, plainStd = false): GoldenErr {
  const std = stdOf(ref);
  return { key, n: ref.length, maxAbs: maxAbsDiffOf(ours, ref), std, bar: rel * (plainStd ? std : Math.max(1, std)) };
}
