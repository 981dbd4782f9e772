// Tolerance checks by normalized error: max|a - b| against a scale taken from the reference tensor.
import { expect } from 'vitest';

export function stats(x: ArrayLike<number>): { min: number; max: number; mean: number; std: number } {
  let min = Infinity, max = -Infinity, sum = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const mean = sum / x.length;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i] - mean) ** 2;
  return { min, max, mean, std: Math.sqrt(ss / Math.max(1, x.length - 1)) };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Asserts max|ours - ref| <= rel * max(1, std(ref)) (the issue-3 bar with rel = 1e-3). */
export function expectClose(name: string, ours: ArrayLike<number>, ref: ArrayLike<number>, rel = 1e-3): number {
  expect(ours.length, `${name}: length`).toBe(ref.length);
  const tol = rel * Math.max(1, stats(ref).std);
  const d = maxAbsDiff(ours, ref);
  expect(d, `${name}: max|d| ${d.toExponential(3)} > tol ${tol.toExponential(3)}`).toBeLessThanOrEqual(tol);
  return d;
}

/**
 * Asserts |ours - ref| <= bar(i) at every element (0 where equal, NaN fails) and returns the worst |d| / bar(i);
 * the message names the worst element.
 */
export function expectWithinBar(
  name: string,
  ours: ArrayLike<number>,
  ref: ArrayLike<number>,
  bar: (i: number) => number,
): number {
  expect(ours.length, `${name}: length`).toBe(ref.length);
  let frac = 0, at = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ours[i] - ref[i]);
    const f = d === 0 ? 0 : d / bar(i);
    if (!(f <= frac)) [frac, at] = [Number.isNaN(f) ? Infinity : f, i];
  }
  expect(frac, `${name}: element ${at} ours ${ours[at]} ref ${ref[at]} (${frac.toFixed(2)} x the bar)`).toBeLessThanOrEqual(1);
  return frac;
}

/** The bar for a result stored as f16, per element: 2^-10 |ref| + 1e-4 std(ref) (twice the half-ulp rounding of an
 * f16 output, plus a floor for values near zero). */
export function f16Bar(ref: ArrayLike<number>): (i: number) => number {
  const floor = 1e-4 * stats(ref).std;
  return (i) => 2 ** -10 * Math.abs(ref[i]) + floor;
}
