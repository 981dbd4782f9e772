// Reference element-wise ops, evaluated in f64 and stored as f32; erf is computed to ~1e-15 so GELU is exact
// enough to judge the GPU kernels' approximations.
import { CpuTensor, empty, expectSameShape, expectShape } from './tensor.ts';

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SERIES_LIMIT = 3; // below: the positive-term series; above: erfc's continued fraction

/** erf by the series (2/sqrt(pi)) e^{-x^2} sum_n 2^n x^{2n+1} / (2n+1)!! (all terms positive, no cancellation). */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc for x >= SERIES_LIMIT: e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up. */
function erfcFraction(x: number): number {
  let f = x;
  for (let n = 120; n >= 1; n--) f = x + n / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  const r = a < SERIES_LIMIT ? erfSeries(a) : 1 - erfcFraction(a);
  return x < 0 ? -r : r;
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= SERIES_LIMIT) return erfcFraction(x);
  if (x >= 0) return 1 - erfSeries(x);
  return 1 + erf(-x);
}

/** Exact GELU x * Phi(x) = 0.5 x erfc(-x / sqrt 2) (erfc keeps the relative accuracy of the negative tail). */
export function geluScalar(x: number): number {
  return 0.5 * x * erfc(-x / Math.SQRT2);
}

export function siluScalar(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function map(x: CpuTensor, f: (v: number) => number): CpuTensor {
  const out = empty(x.shape);
  const xs = x.data, os = out.data;
  for (let i = 0; i < xs.length; i++) os[i] = f(xs[i]);
  return out;
}

export function zip(what: string, a: CpuTensor, b: CpuTensor, f: (u: number, v: number) => number): CpuTensor {
  expectSameShape(what, a, b);
  const out = empty(a.shape);
  const as = a.data, bs = b.data, os = out.data;
  for (let i = 0; i < as.length; i++) os[i] = f(as[i], bs[i]);
  return out;
}

/** x [..., 2C] -> [..., C]: x[..., :C] * gelu(x[..., C:]). */
export function geglu(x: CpuTensor): CpuTensor {
  const last = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || last % 2 !== 0) throw new Error('geglu: last dim must be even');
  const c = last / 2;
  const rows = c === 0 ? 0 : x.data.length / last;
  const out = empty([...x.shape.slice(0, -1), c]);
  const xs = x.data, os = out.data;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < c; i++) os[r * c + i] = xs[r * last + i] * geluScalar(xs[r * last + c + i]);
  }
  return out;
}

/** x [N,C,...spatial] + v [N,C] broadcast over the spatial positions. */
export function addPerChannel(x: CpuTensor, v: CpuTensor): CpuTensor {
  if (x.shape.length < 2) throw new Error('addPerChannel: x must be [N,C,...]');
  const [n, c] = x.shape;
  expectShape('addPerChannel v', v, [n, c]);
  const spatial = n * c === 0 ? 0 : x.data.length / (n * c);
  const out = empty(x.shape);
  const xs = x.data, os = out.data;
  for (let nc = 0; nc < n * c; nc++) {
    const add = v.data[nc];
    for (let s = 0; s < spatial; s++) os[nc * spatial + s] = xs[nc * spatial + s] + add;
  }
  return out;
}

/**
 * sum_i coef_i * t_i[offset_i ...] over `n` elements, rounded as the scale-then-add chain it replaces:
 * acc = f32(c0 * t0), then acc = f32(acc + f32(c_i * t_i)).
 */
export function lincomb(terms: readonly { data: Float32Array; offset: number; coef: number }[], shape: readonly number[]): CpuTensor {
  const out = empty(shape);
  const os = out.data;
  terms.forEach(({ data, offset, coef }, k) => {
    for (let i = 0; i < os.length; i++) {
      const v = Math.fround(data[offset + i] * coef);
      os[i] = k === 0 ? v : os[i] + v;
    }
  });
  return out;
}
