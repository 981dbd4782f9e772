// The CPU reference backend against hand-worked cases, formulas written independently here, and single-op
// goldens from the PyTorch reference (tiny-ip2p), read with a minimal local safetensors parser.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/ops/cpu/backend.ts';
import { erf, erfc } from '../../src/engine/ops/cpu/elementwise.ts';
import { nearestSource } from '../../src/engine/ops/cpu/layout.ts';
import type { Tensor } from '../../src/engine/ops/ops.ts';
import { expectClose, maxAbsDiff } from '../helpers/compare.ts';

const be = new CpuBackend();
const T = (data: number[] | Float32Array, shape: number[]): Tensor => be.fromArray(Float32Array.from(data), shape);
const read = (t: Tensor): Promise<Float32Array> => be.read(t);
const f = Math.fround;

/** Deterministic values in [-1, 1) (a small LCG), so cases are reproducible without a RNG dependency. */
function seq(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

// ---- minimal safetensors reader (8-byte LE header length, JSON header, raw little-endian data) -------------
type Golden = { dtype: string; shape: number[]; data: Float32Array | Uint8Array | Int32Array };
const MODEL = 'models/tiny-ip2p';
const fileCache = new Map<string, Map<string, Golden>>();
function st(path: string): Map<string, Golden> {
  let m = fileCache.get(path);
  if (m) return m;
  const buf = readFileSync(`${MODEL}/${path}`);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  m = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const bytes = buf.subarray(8 + n + data_offsets[0], 8 + n + data_offsets[1]);
    const copy = new Uint8Array(bytes).buffer; // aligned copy
    const data =
      dtype === 'F32' ? new Float32Array(copy) : dtype === 'I32' ? new Int32Array(copy) : dtype === 'U8' ? new Uint8Array(copy) : null;
    if (data) m.set(name, { dtype, shape, data });
  }
  fileCache.set(path, m);
  return m;
}
function g(path: string, name: string): Golden {
  const t = st(path).get(name);
  if (!t) throw new Error(`${name} not in ${path}`);
  return t;
}
const gt = (path: string, name: string): Tensor => {
  const t = g(path, name);
  return be.fromArray(t.data as Float32Array, t.shape);
};

describe('cpu tensors', () => {
  it('copies on fromArray and read, shares on reshape', async () => {
    const src = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = be.fromArray(src, [2, 3]);
    src[0] = 99;
    const r = await read(t);
    expect(Array.from(r)).toEqual([1, 2, 3, 4, 5, 6]);
    r[1] = 99;
    expect((await read(t))[1]).toBe(2);
    const v = be.reshape(t, [3, 2]);
    expect(v.shape).toEqual([3, 2]);
    expect(Array.from(await read(v))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => be.reshape(t, [4, 2])).toThrow();
    be.release(v);
    await be.flush();
  });

  it('widens f16 weights to their exact values and records dtype f16', async () => {
    // 1, -2, 65504 (max half), 2^-24 (smallest subnormal), 0x3555 = 1365/4096, -0, +inf
    const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x3555, 0x8000, 0x7c00]);
    const w = be.weight({ dtype: 'f16', data: bits }, [7]);
    expect(w.dtype).toBe('f16');
    const r = await read(w);
    expect(Array.from(r)).toEqual([1, -2, 65504, 2 ** -24, 1365 / 4096, -0, Infinity]);
    const w32 = be.weight({ dtype: 'f32', data: new Float32Array([0.1, 0.2]) }, [2]);
    expect(w32.dtype).toBe('f32');
    expect(Array.from(await read(w32))).toEqual([f(0.1), f(0.2)]);
  });
});

/** Independent convolution: build the zero-padded input explicitly, then take strided windows. */
function convRef(x: Float32Array, [n, ci, h, w]: number[], k: Float32Array, [co, , kh, kw]: number[], bias: Float32Array | null,
  stride: number, [pt, pb, pl, pr]: number[]): { data: number[]; shape: number[] } {
  const ph = h + pt + pb, pw = w + pl + pr;
  const padded = new Float64Array(n * ci * ph * pw);
  for (let a = 0; a < n * ci; a++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    padded[(a * ph + y + pt) * pw + xx + pl] = x[(a * h + y) * w + xx];
  }
  const ho = Math.floor((ph - kh) / stride) + 1, wo = Math.floor((pw - kw) / stride) + 1;
  const data: number[] = [];
  for (let b = 0; b < n; b++) for (let o = 0; o < co; o++) for (let y = 0; y < ho; y++) for (let xx = 0; xx < wo; xx++) {
    let s = bias ? bias[o] : 0;
    for (let c = 0; c < ci; c++) for (let dy = 0; dy < kh; dy++) for (let dx = 0; dx < kw; dx++) {
      s += k[((o * ci + c) * kh + dy) * kw + dx] * padded[((b * ci + c) * ph + y * stride + dy) * pw + xx * stride + dx];
    }
    data.push(s);
  }
  return { data, shape: [n, co, ho, wo] };
}

describe('cpu conv2d', () => {
  it('2x2 ones kernel on a hand case, with and without bottom/right padding', async () => {
    const x = T([1, 2, 3, 4], [1, 1, 2, 2]);
    const w = T([1, 1, 1, 1], [1, 1, 2, 2]);
    expect(Array.from(await read(be.conv2d(x, w, null, { pad: [0, 0, 0, 0] })))).toEqual([10]);
    const y = be.conv2d(x, w, T([0.5], [1]), { pad: [0, 1, 0, 1] });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(Array.from(await read(y))).toEqual([10.5, 6.5, 7.5, 4.5]);
  });

  it('1x1 conv is a per-pixel matmul', async () => {
    const x = seq(2 * 3 * 2 * 2, 3), w = seq(4 * 3, 4), b = seq(4, 5);
    const y = await read(be.conv2d(T(x, [2, 3, 2, 2]), T(w, [4, 3, 1, 1]), T(b, [4])));
    const exp: number[] = [];
    for (let n = 0; n < 2; n++) for (let o = 0; o < 4; o++) for (let p = 0; p < 4; p++) {
      let s = b[o];
      for (let c = 0; c < 3; c++) s += w[o * 3 + c] * x[(n * 3 + c) * 4 + p];
      exp.push(s);
    }
    expectClose('1x1', y, exp, 1e-6);
  });

  it('identity and shift 3x3 kernels with default padding', async () => {
    const x = seq(1 * 2 * 3 * 4, 7);
    const id = new Float32Array(2 * 2 * 9), shift = new Float32Array(2 * 2 * 9);
    for (let c = 0; c < 2; c++) {
      id[(c * 2 + c) * 9 + 4] = 1; // centre tap
      shift[(c * 2 + c) * 9 + 0] = 1; // top-left tap: out[y][x] = in[y-1][x-1]
    }
    const yi = await read(be.conv2d(T(x, [1, 2, 3, 4]), T(id, [2, 2, 3, 3]), null));
    expect(Array.from(yi)).toEqual(Array.from(x));
    const ys = await read(be.conv2d(T(x, [1, 2, 3, 4]), T(shift, [2, 2, 3, 3]), null));
    for (let c = 0; c < 2; c++) for (let y = 0; y < 3; y++) for (let xx = 0; xx < 4; xx++) {
      const e = y > 0 && xx > 0 ? x[(c * 3 + y - 1) * 4 + xx - 1] : 0;
      expect(ys[(c * 3 + y) * 4 + xx]).toBe(e);
    }
  });

  it.each([
    ['VAE downsample pad [0,1,0,1] stride 2', 2, [0, 1, 0, 1], 7, 8],
    ['UNet downsample pad 1 stride 2', 2, [1, 1, 1, 1], 7, 8],
    ['asymmetric pad stride 1', 1, [2, 0, 1, 3], 5, 4],
  ])('%s matches an explicit padded-window reference', async (_name, stride, pad, h, w) => {
    const xs = [2, 3, h, w], ws = [4, 3, 3, 3];
    const x = seq(2 * 3 * h * w, 11), k = seq(4 * 27, 12), b = seq(4, 13);
    const ref = convRef(x, xs, k, ws, b, stride, pad);
    const y = be.conv2d(T(x, xs), T(k, ws), T(b, [4]), { stride, pad: pad as [number, number, number, number] });
    expect(y.shape).toEqual(ref.shape);
    expectClose('conv', await read(y), ref.data, 1e-6);
  });

  it('output size floor((H + pt + pb - kh) / stride) + 1 for the downsamplers', () => {
    const w = T(seq(9), [1, 1, 3, 3]);
    const x = (h: number, wd: number) => T(new Float32Array(h * wd), [1, 1, h, wd]);
    expect(be.conv2d(x(64, 63), w, null, { stride: 2, pad: [0, 1, 0, 1] }).shape).toEqual([1, 1, 32, 31]);
    expect(be.conv2d(x(64, 63), w, null, { stride: 2, pad: [1, 1, 1, 1] }).shape).toEqual([1, 1, 32, 32]);
  });
});

describe('cpu normalization', () => {
  it('groupNorm with known group statistics, plain and fused SiLU', async () => {
    // [1,4,1,2], 2 groups: group 0 = {1,2,3,4} (mean 2.5, var 1.25), group 1 = {10,10,10,14} (mean 11, var 3)
    const x = T([1, 2, 3, 4, 10, 10, 10, 14], [1, 4, 1, 2]);
    const gamma = T([1, 2, 3, 4], [4]), beta = T([0, 1, -1, 0.5], [4]);
    const eps = 1e-5;
    const ref = [1, 2, 3, 4].map((v, i) => ((v - 2.5) / Math.sqrt(1.25 + eps)) * [1, 1, 2, 2][i] + [0, 0, 1, 1][i])
      .concat([10, 10, 10, 14].map((v, i) => ((v - 11) / Math.sqrt(3 + eps)) * [3, 3, 4, 4][i] + [-1, -1, 0.5, 0.5][i]));
    expectClose('gn', await read(be.groupNorm(x, gamma, beta, { groups: 2, eps })), ref, 1e-6);
    const silu = ref.map((v) => v / (1 + Math.exp(-v)));
    const fused = await read(be.groupNorm(x, gamma, beta, { groups: 2, eps, silu: true }));
    expectClose('gn+silu', fused, silu, 1e-6);
    expect(Array.from(fused)).toEqual(Array.from(await read(be.silu(be.groupNorm(x, gamma, beta, { groups: 2, eps })))));
  });

  it('groupNorm on a [N,C,L] tensor: each (n, group) normalized separately', async () => {
    const x = seq(2 * 6 * 5, 21);
    const y = await read(be.groupNorm(T(x, [2, 6, 5]), T([1, 1, 1, 1, 1, 1], [6]), T([0, 0, 0, 0, 0, 0], [6]), { groups: 3, eps: 0 }));
    for (let a = 0; a < 6; a++) { // (n, g) blocks of 10 values
      const blk = Array.from(y.subarray(a * 10, a * 10 + 10));
      const mean = blk.reduce((s, v) => s + v, 0) / 10;
      const v = blk.reduce((s, u) => s + (u - mean) ** 2, 0) / 10;
      expect(Math.abs(mean)).toBeLessThan(1e-6);
      expect(Math.abs(v - 1)).toBeLessThan(1e-5);
    }
  });

  it('layerNorm over the last dim with biased variance', async () => {
    const x = T([1, 2, 3, 4, -1, -1, 1, 1], [2, 4]);
    const y = await read(be.layerNorm(x, T([1, 2, 1, 2], [4]), T([0, 0, 1, 1], [4]), 1e-5));
    const s0 = Math.sqrt(1.25 + 1e-5), s1 = Math.sqrt(1 + 1e-5);
    const ref = [-1.5 / s0, (-0.5 / s0) * 2, 0.5 / s0 + 1, (1.5 / s0) * 2 + 1, -1 / s1, (-1 / s1) * 2, 1 / s1 + 1, (1 / s1) * 2 + 1];
    expectClose('ln', y, ref, 1e-6);
  });
});

describe('cpu matrix products', () => {
  it('linear x[...,K] @ w[N,K]^T + b on a hand case', async () => {
    const x = T([1, 2, 3, 4, 5, 6], [2, 1, 3]);
    const w = T([1, 0, -1, 0.5, 0.5, 0.5], [2, 3]);
    const y = be.linear(x, w, T([10, 20], [2]));
    expect(y.shape).toEqual([2, 1, 2]);
    expect(Array.from(await read(y))).toEqual([1 - 3 + 10, 3 + 20, 4 - 6 + 10, 7.5 + 20]);
    expect(Array.from(await read(be.linear(x, w, null)))).toEqual([-2, 3, -2, 7.5]);
  });

  it('batched matmul', async () => {
    const a = T([1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0], [2, 2, 3]);
    const b = T([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 3, 2]);
    const y = be.matmul(a, b);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(await read(y))).toEqual([22, 28, 49, 64, 7, 8, 9, 10]);
  });
});

/** Independent attention: per head, explicit score matrix, exp(s)/sum exp(s) without max subtraction. */
function attentionRef(q: Float32Array, k: Float32Array, v: Float32Array, b: number, nq: number, nk: number, heads: number,
  d: number, scale: number, causal: boolean): number[] {
  const c = heads * d, out = new Array<number>(b * nq * c).fill(0);
  for (let z = 0; z < b; z++) for (let h = 0; h < heads; h++) for (let i = 0; i < nq; i++) {
    const w: number[] = [];
    for (let j = 0; j < nk; j++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += q[(z * nq + i) * c + h * d + t] * k[(z * nk + j) * c + h * d + t];
      w.push(causal && j > i ? 0 : Math.exp(s * scale));
    }
    const tot = w.reduce((s, u) => s + u, 0);
    for (let t = 0; t < d; t++) {
      for (let j = 0; j < nk; j++) out[(z * nq + i) * c + h * d + t] += (w[j] / tot) * v[(z * nk + j) * c + h * d + t];
    }
  }
  return out;
}

describe('cpu attention and softmax', () => {
  it('one query against identical keys gives the mean of the values', async () => {
    const q = T([0.3, -2, 5, 1], [1, 1, 4]);
    const k = T([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4], [1, 3, 4]);
    const v = T([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 3, 4]);
    expectClose('mean', await read(be.attention(q, k, v, { heads: 2 })), [5, 6, 7, 8], 1e-6);
  });

  it('causal: row 0 is v[0], row 1 mixes v[0..1] only', async () => {
    const q = seq(3 * 4, 31), k = seq(3 * 4, 32), v = seq(3 * 4, 33);
    const y = await read(be.attention(T(q, [1, 3, 4]), T(k, [1, 3, 4]), T(v, [1, 3, 4]), { heads: 1, causal: true }));
    expectClose('row0', y.subarray(0, 4), v.subarray(0, 4), 1e-7);
    const s0 = (q[4] * k[0] + q[5] * k[1] + q[6] * k[2] + q[7] * k[3]) / 2;
    const s1 = (q[4] * k[4] + q[5] * k[5] + q[6] * k[6] + q[7] * k[7]) / 2;
    const p0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1));
    expectClose('row1', y.subarray(4, 8), [0, 1, 2, 3].map((t) => p0 * v[t] + (1 - p0) * v[4 + t]), 1e-6);
  });

  it.each([
    ['self, 2 heads, default scale', 2, 5, 5, 2, 3, undefined, false],
    ['cross, 3 heads, custom scale', 1, 4, 7, 3, 2, 0.7, false],
    ['causal, 2 heads', 2, 6, 6, 2, 4, undefined, true],
  ])('%s matches an explicit-score reference', async (_n, b, nq, nk, heads, d, scale, causal) => {
    const c = heads * d;
    const q = seq(b * nq * c, 41), k = seq(b * nk * c, 42), v = seq(b * nk * c, 43);
    const y = be.attention(T(q, [b, nq, c]), T(k, [b, nk, c]), T(v, [b, nk, c]), { heads, scale, causal });
    expect(y.shape).toEqual([b, nq, c]);
    expectClose('attn', await read(y), attentionRef(q, k, v, b, nq, nk, heads, d, scale ?? 1 / Math.sqrt(d), causal), 1e-6);
  });

  it("packed 'qkv': channels 0..C-1, C..2C-1, 2C..3C-1 of one tensor are q, k and v", async () => {
    const [b, n, heads, d] = [2, 5, 2, 3], c = heads * d;
    const x = seq(b * n * 3 * c, 61);
    // q, k, v cut from each row by hand
    const cut = (from: number) => Float32Array.from({ length: b * n * c }, (_, i) => x[Math.floor(i / c) * 3 * c + from + (i % c)]);
    const qkv = T(x, [b, n, 3 * c]);
    const y = be.attention(qkv, qkv, qkv, { heads, causal: true, packed: 'qkv' });
    expect(y.shape).toEqual([b, n, c]);
    expectClose('qkv', await read(y), attentionRef(cut(0), cut(c), cut(2 * c), b, n, n, heads, d, 1 / Math.sqrt(d), true), 1e-6);
  });

  it("packed 'kv': q apart, k and v the two halves of one [B, Nk, 2C] tensor", async () => {
    const [b, nq, nk, heads, d] = [1, 3, 4, 1, 2];
    const q = seq(b * nq * d, 62);
    // rows [k0 k1 | v0 v1]: keys from the first half, values from the second
    const kv = [1, 0, 10, 20, 0, 1, 30, 40, 1, 1, 50, 60, -1, 0, 70, 80];
    const kvT = T(kv, [b, nk, 2 * d]);
    const y = await read(be.attention(T(q, [b, nq, d]), kvT, kvT, { heads, scale: 0.5, packed: 'kv' }));
    const k = [1, 0, 0, 1, 1, 1, -1, 0], v = [10, 20, 30, 40, 50, 60, 70, 80];
    expectClose('kv', y, attentionRef(q, Float32Array.from(k), Float32Array.from(v), b, nq, nk, heads, d, 0.5, false), 1e-6);
  });

  it('packed inputs must be one tensor passed as each part, with a width that splits', () => {
    const x = T(seq(2 * 12), [1, 2, 12]);
    expect(() => be.attention(x, T(seq(24), [1, 2, 12]), x, { heads: 1, packed: 'qkv' })).toThrow(/takes one q\|k\|v tensor/);
    expect(() => be.attention(x, x, T(seq(24), [1, 2, 12]), { heads: 1, packed: 'kv' })).toThrow(/takes one k\|v tensor/);
    const odd = T(seq(10), [1, 2, 5]);
    expect(() => be.attention(odd, odd, odd, { heads: 1, packed: 'qkv' })).toThrow(/5 channels of a packed 'qkv' tensor/);
  });

  it('stays finite for huge scores (max subtracted)', async () => {
    const q = T([100, 100], [1, 1, 2]), k = T([100, 100, 99, 99], [1, 2, 2]), v = T([1, 0, 0, 1], [1, 2, 2]);
    const y = await read(be.attention(q, k, v, { heads: 1, scale: 1 }));
    // scores 20000 and 19800: the second key's weight is e^-200, i.e. 0 in f32
    expect(Array.from(y)).toEqual([1, 0]);
  });

  it('softmax rows sum to 1 and match exp(x)/sum exp(x), also for large inputs', async () => {
    const x = seq(3 * 5, 51);
    const y = await read(be.softmax(T(x, [3, 5])));
    const ref: number[] = [];
    for (let r = 0; r < 3; r++) {
      const e = Array.from(x.subarray(r * 5, r * 5 + 5)).map(Math.exp);
      const s = e.reduce((a, u) => a + u, 0);
      ref.push(...e.map((u) => u / s));
      expect(Math.abs(y.subarray(r * 5, r * 5 + 5).reduce((a, u) => a + u, 0) - 1)).toBeLessThan(1e-6);
    }
    expectClose('softmax', y, ref, 1e-7);
    const big = await read(be.softmax(T([1000, 1001], [1, 2])));
    expectClose('softmax big', big, [1 / (1 + Math.E), Math.E / (1 + Math.E)], 1e-7);
  });
});

describe('cpu element-wise', () => {
  it('erf / erfc to ~1e-15 against known values', () => {
    const cases: [number, number, number][] = [ // x, erf(x), erfc(x)
      [1e-10, 1.1283791670955126e-10, 0.999999999887162], [0.1, 0.1124629160182849, 0.8875370839817152],
      [0.5, 0.5204998778130465, 0.4795001221869535], [1, 0.8427007929497149, 0.15729920705028513],
      [1.5, 0.9661051464753108, 0.033894853524689274], [2, 0.9953222650189527, 0.004677734981047265],
      [2.5, 0.999593047982555, 0.0004069520174449589], [2.9999, 0.9999778955735178, 2.210442648216091e-5],
      [3, 0.9999779095030014, 2.2090496998585438e-5], [3.5, 0.9999992569016276, 7.430983723414128e-7],
      [4, 0.9999999845827421, 1.541725790028002e-8], [5, 0.9999999999984626, 1.5374597944280351e-12],
      [6, 1, 2.1519736712498916e-17],
    ];
    for (const [x, e, ec] of cases) {
      expect(Math.abs(erf(x) - e), `erf(${x})`).toBeLessThan(2e-16 + 2e-15 * e);
      expect(Math.abs(erf(-x) + e), `erf(-${x})`).toBeLessThan(2e-16 + 2e-15 * e);
      expect(Math.abs(erfc(x) - ec) / ec, `erfc(${x})`).toBeLessThan(x < 3 ? 1e-15 / ec : 1e-13);
    }
    expect(erf(0)).toBe(0);
    expect(erfc(-3)).toBeCloseTo(2 - 2.2090496998585438e-5, 15);
  });

  it('gelu (exact erf), silu, quickGelu, exp', async () => {
    const xs = [-4, -1, -0.5, 0, 0.5, 1, 3, 5];
    const gelu = [-0.00012668496733247986, -0.15865525393145707, -0.15426876936299344, 0, 0.34573123063700656,
      0.8413447460685429, 2.99595030590511, 4.99999856674214];
    const x = T(xs, [8]);
    expect(Array.from(await read(be.gelu(x)))).toEqual(gelu.map(f));
    expect(Array.from(await read(be.silu(x)))).toEqual(xs.map((v) => f(v / (1 + Math.exp(-v)))));
    expect(Array.from(await read(be.quickGelu(x)))).toEqual(xs.map((v) => f(v / (1 + Math.exp(-1.702 * v)))));
    expect(Array.from(await read(be.exp(x)))).toEqual(xs.map((v) => f(Math.exp(v))));
  });

  it('geglu: first half times gelu of the second half', async () => {
    const y = be.geglu(T([2, 3, 1, -1, -1, 10, 0.5, 3], [2, 1, 4]));
    expect(y.shape).toEqual([2, 1, 2]);
    expectClose('geglu', await read(y), [2 * 0.8413447460685429, 3 * -0.15865525393145707, -1 * 0.34573123063700656,
      10 * 2.99595030590511], 1e-6);
  });

  it('clamp, add, mul, scale, addPerChannel', async () => {
    const a = T([-2, -0.5, 0.5, 2], [2, 2]), b = T([1, 2, 3, 4], [2, 2]);
    expect(Array.from(await read(be.clamp(a, -1, 1)))).toEqual([-1, -0.5, 0.5, 1]);
    expect(Array.from(await read(be.add(a, b)))).toEqual([-1, 1.5, 3.5, 6]);
    expect(Array.from(await read(be.mul(a, b)))).toEqual([-2, -1, 1.5, 8]);
    expect(Array.from(await read(be.scale(a, 2)))).toEqual([-4, -1, 1, 4]);
    expect(Array.from(await read(be.scale(a, 2, 1)))).toEqual([-3, 0, 2, 5]);
    expect(() => be.add(a, T([1, 2, 3, 4], [4]))).toThrow();
    // x [2,2,1,2] + v [2,2]
    const x = T([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 1, 2]);
    expect(Array.from(await read(be.addPerChannel(x, T([10, 20, 30, 40], [2, 2]))))).toEqual([11, 12, 23, 24, 35, 36, 47, 48]);
  });
});

describe('cpu layout', () => {
  it('upsampleNearest index patterns 5->8 (H) and 3->6 (W)', async () => {
    // x[h][w] = 10 h + w, so each output value spells its source (row, column)
    const x = T(Array.from({ length: 15 }, (_, i) => 10 * Math.floor(i / 3) + (i % 3)), [1, 1, 5, 3]);
    const y = await read(be.upsampleNearest(x, 8, 6));
    const rows = [0, 0, 1, 1, 2, 3, 3, 4], cols = [0, 0, 1, 1, 2, 2];
    expect(Array.from(y)).toEqual(rows.flatMap((r) => cols.map((c) => 10 * r + c)));
  });

  it('the integer rule equals PyTorch f32 nearest for every size the models produce (out = 2 in - 1 or 2 in)', () => {
    // PyTorch 1.13 (UpSample.h nearest_idx): out == in -> dst; out == 2 in -> dst >> 1;
    // else min(floorf(float(dst) * (float(in) / out)), in - 1).
    const torchIdx = (d: number, i: number, o: number) =>
      o === i ? d : o === 2 * i ? d >> 1 : Math.min(Math.floor(f(f(d) * f(f(i) / f(o)))), i - 1);
    for (let i = 1; i <= 512; i++) {
      for (const o of [2 * i - 1, 2 * i, i]) {
        for (let d = 0; d < o; d++) if (nearestSource(d, i, o) !== torchIdx(d, i, o)) throw new Error(`${i}->${o} @${d}`);
      }
    }
    // Other ratios can differ (documented in layout.ts): 14 -> 46 at dst 23 is 7 exactly but 6 in PyTorch's f32.
    expect([nearestSource(23, 14, 46), torchIdx(23, 14, 46)]).toEqual([7, 6]);
  });

  it('concat and slice along each axis', async () => {
    const a = T([1, 2, 3, 4, 5, 6], [1, 2, 3]), b = T([7, 8, 9, 10, 11, 12], [1, 2, 3]);
    expect(Array.from(await read(be.concat([a, b], 0)))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const c1 = be.concat([a, b], 1);
    expect(c1.shape).toEqual([1, 4, 3]);
    expect(Array.from(await read(c1))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const c2 = be.concat([a, T([0, 0], [1, 2, 1])], 2);
    expect(c2.shape).toEqual([1, 2, 4]);
    expect(Array.from(await read(c2))).toEqual([1, 2, 3, 0, 4, 5, 6, 0]);
    expect(() => be.concat([a, T([0, 0], [1, 1, 2])], 1)).toThrow();
    const s = be.slice(c2, 2, 1, 3);
    expect(s.shape).toEqual([1, 2, 2]);
    expect(Array.from(await read(s))).toEqual([2, 3, 5, 6]);
    expect(Array.from(await read(be.slice(c1, 1, 2, 4)))).toEqual([7, 8, 9, 10, 11, 12]);
    expect(() => be.slice(c1, 1, 3, 5)).toThrow();
  });

  it('nchwToNlc and nlcToNchw', async () => {
    // [1,2,2,2]: channel 0 = 0..3, channel 1 = 10..13
    const x = T([0, 1, 2, 3, 10, 11, 12, 13], [1, 2, 2, 2]);
    const l = be.nchwToNlc(x);
    expect(l.shape).toEqual([1, 4, 2]);
    expect(Array.from(await read(l))).toEqual([0, 10, 1, 11, 2, 12, 3, 13]);
    const back = be.nlcToNchw(l, 2, 2);
    expect(back.shape).toEqual([1, 2, 2, 2]);
    expect(Array.from(await read(back))).toEqual([0, 1, 2, 3, 10, 11, 12, 13]);
  });
});

describe('cpu embeddings and images', () => {
  it('timestepEmbedding matches the golden unet.t0.time_proj (t = 999, dim 32, flip, shift 0)', async () => {
    const ref = g('golden/unet.safetensors', 'unet.t0.time_proj');
    const t = g('golden/unet.safetensors', 'unet.t0.timestep').data as Float32Array;
    expect(t[0]).toBe(999);
    const y = be.timestepEmbedding(new Float32Array([999]), 32, true, 0);
    expect(y.shape).toEqual([1, 32]);
    const ours = await read(y), want = ref.data as Float32Array;
    console.log(`time_proj max|d| ${maxAbsDiff(ours, want).toExponential(2)}`);
    // The shared table (src/engine/ops/timestep.ts) reproduces PyTorch's f32 exp (SLEEF expf_u10), so every entry
    // agrees to one output ulp (sin/cos of the same f32 argument may still round differently in the last bit).
    for (let i = 0; i < 32; i++) expect(Math.abs(ours[i] - want[i]), `entry ${i}`).toBeLessThanOrEqual(1.2e-7);
  });

  it('timestepEmbedding layout: unflipped halves, shift, odd dim, several timesteps', async () => {
    const ts = new Float32Array([0, 1.5, 10]);
    const flip = await read(be.timestepEmbedding(ts, 8, true, 1));
    const plain = await read(be.timestepEmbedding(ts, 9, false, 1));
    for (let r = 0; r < 3; r++) {
      for (let i = 0; i < 4; i++) {
        const arg = ts[r] * Math.exp((-Math.log(10000) * i) / 3); // half - shift = 3; small args: f32 ~ f64
        expect(Math.abs(flip[r * 8 + i] - Math.cos(arg))).toBeLessThan(1e-6);
        expect(Math.abs(flip[r * 8 + 4 + i] - Math.sin(arg))).toBeLessThan(1e-6);
        expect(plain[r * 9 + i]).toBe(flip[r * 8 + 4 + i]);
        expect(plain[r * 9 + 4 + i]).toBe(flip[r * 8 + i]);
      }
      expect(plain[r * 9 + 8]).toBe(0);
    }
  });

  it('time_embedding golden through linear, silu, linear', async () => {
    const w = (n: string) => gt('unet/diffusion_pytorch_model.safetensors', `time_embedding.${n}`);
    const tp = gt('golden/unet.safetensors', 'unet.t0.time_proj');
    const h = be.linear(be.silu(be.linear(tp, w('linear_1.weight'), w('linear_1.bias'))), w('linear_2.weight'), w('linear_2.bias'));
    expectClose('time_embedding', await read(h), g('golden/unet.safetensors', 'unet.t0.time_embedding').data as Float32Array, 1e-5);
  });

  it('embedding: token rows plus position rows, and the text golden hidden_states.0', async () => {
    const tok = T([0, 0, 1, 1, 2, 2, 3, 3], [4, 2]), pos = T([0.5, -0.5, 10, 20, 99, 99], [3, 2]);
    const y = be.embedding(new Int32Array([2, 0, 1, 1]), 2, tok, pos);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(await read(y))).toEqual([2.5, 1.5, 10, 20, 1.5, 0.5, 11, 21]);
    expect(() => be.embedding(new Int32Array([4]), 1, tok, pos)).toThrow();

    const te = (n: string) => gt('text_encoder/model.safetensors', `text_model.embeddings.${n}.weight`);
    const ids = g('golden/text.safetensors', 'text_encoder.input_ids');
    const e = be.embedding(ids.data as Int32Array, 10, te('token_embedding'), te('position_embedding'));
    expect(e.shape).toEqual([10, 77, 32]);
    const ref = g('golden/text.safetensors', 'text_encoder.hidden_states.0').data as Float32Array;
    expect(maxAbsDiff(await read(e), ref)).toBe(0);
  });

  it('imageToTensor reproduces the golden vae.input exactly', async () => {
    const u8 = g('golden/vae.safetensors', 'vae.image_u8');
    const x = be.imageToTensor(u8.data as Uint8Array, 64, 64);
    expect(x.shape).toEqual([1, 3, 64, 64]);
    expect(maxAbsDiff(await read(x), g('golden/vae.safetensors', 'vae.input').data as Float32Array)).toBe(0);
    const px = await read(be.imageToTensor(new Uint8Array([0, 255, 128]), 1, 1));
    expect(Array.from(px)).toEqual([-1, 1, f(f(2 * f(128 / 255)) - 1)]);
  });

  it('tensorToImage rounds half to even and clamps', async () => {
    // values whose f32 pipeline lands exactly on k + 0.5
    const xs: number[] = [], want: number[] = [];
    for (let k = 0; k < 255 && xs.length < 30; k++) {
      const v = f((k + 0.5) / 255);
      const x = f((v - 0.5) * 2);
      if (f(x / 2) === x / 2 && f(f(x / 2) + 0.5) === v && f(v * 255) === k + 0.5) {
        xs.push(x);
        want.push(k % 2 === 0 ? k : k + 1);
      }
    }
    expect(want.filter((k) => k % 2 === 0).length).toBeGreaterThanOrEqual(3); // even k: Math.round would go up
    xs.push(-5, 5, 0);
    want.push(0, 255, 128); // 0 -> 0.5 * 255 = 127.5 -> 128 (even)
    const n = xs.length;
    const planar = new Float32Array(3 * n);
    for (let c = 0; c < 3; c++) planar.set(xs, c * n);
    const img = await be.tensorToImage(T(planar, [1, 3, 1, n]));
    for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) expect(img[p * 3 + c], `x=${xs[p]}`).toBe(want[p]);
  });

  it('tensorToImage reproduces the golden pipeline output_u8 exactly', async () => {
    for (const run of ['run1', 'run2']) {
      const img = await be.tensorToImage(gt('golden/pipeline.safetensors', `${run}.vae_decode_output`));
      expect(maxAbsDiff(img, g('golden/pipeline.safetensors', `${run}.output_u8`).data as Uint8Array), run).toBe(0);
    }
  });
});

describe('cpu ops against single-op VAE / UNet goldens', () => {
  const V = 'golden/vae.safetensors';
  const vw = (n: string) => gt('vae/diffusion_pytorch_model.safetensors', n);
  const close = async (name: string, t: Tensor, file: string, ref: string) =>
    console.log(`${name} max|d| ${expectClose(name, await read(t), g(file, ref).data as Float32Array, 1e-5).toExponential(2)}`);

  it('encoder conv_in (3x3, 3 -> 32 channels, 64x64)', async () => {
    await close('conv_in', be.conv2d(gt(V, 'vae.input'), vw('encoder.conv_in.weight'), vw('encoder.conv_in.bias')), V,
      'vae.enc.encoder.conv_in');
  });

  it('encoder conv_norm_out (GroupNorm 32, eps 1e-6), then SiLU + conv_out, then quant_conv', async () => {
    const gn = { groups: 32, eps: 1e-6 };
    const mid = gt(V, 'vae.enc.encoder.mid_block');
    await close('conv_norm_out', be.groupNorm(mid, vw('encoder.conv_norm_out.weight'), vw('encoder.conv_norm_out.bias'), gn), V,
      'vae.enc.encoder.conv_norm_out');
    const act = be.groupNorm(mid, vw('encoder.conv_norm_out.weight'), vw('encoder.conv_norm_out.bias'), { ...gn, silu: true });
    const out = be.conv2d(act, vw('encoder.conv_out.weight'), vw('encoder.conv_out.bias'));
    await close('conv_out', out, V, 'vae.enc.encoder.conv_out');
    await close('quant_conv', be.conv2d(gt(V, 'vae.enc.encoder.conv_out'), vw('quant_conv.weight'), vw('quant_conv.bias')), V,
      'vae.enc.quant_conv');
  });

  it('encoder mid block (resnet, single-head attention, resnet) composed from the ops', async () => {
    const m = (n: string) => vw(`encoder.mid_block.${n}`);
    const gn = { groups: 32, eps: 1e-6, silu: true };
    const resnet = (x: Tensor, p: string) => {
      const h = be.conv2d(be.groupNorm(x, m(`${p}.norm1.weight`), m(`${p}.norm1.bias`), gn), m(`${p}.conv1.weight`), m(`${p}.conv1.bias`));
      const h2 = be.conv2d(be.groupNorm(h, m(`${p}.norm2.weight`), m(`${p}.norm2.bias`), gn), m(`${p}.conv2.weight`), m(`${p}.conv2.bias`));
      return be.add(x, h2);
    };
    const attn = (x: Tensor) => {
      const a = 'attentions.0';
      const [, , hh, ww] = x.shape;
      const t = be.nchwToNlc(be.groupNorm(x, m(`${a}.group_norm.weight`), m(`${a}.group_norm.bias`), { groups: 32, eps: 1e-6 }));
      const lin = (n: string) => be.linear(t, m(`${a}.${n}.weight`), m(`${a}.${n}.bias`));
      const o = be.attention(lin('to_q'), lin('to_k'), lin('to_v'), { heads: 1 }); // [1, HW, C]
      return be.add(x, be.nlcToNchw(be.linear(o, m(`${a}.to_out.0.weight`), m(`${a}.to_out.0.bias`)), hh, ww));
    };
    const out = resnet(attn(resnet(gt(V, 'vae.enc.encoder.down_blocks.3'), 'resnets.0')), 'resnets.1');
    await close('mid_block', out, V, 'vae.enc.encoder.mid_block');
  });

  it('decoder post_quant_conv and UNet conv_norm_out (GroupNorm eps 1e-5)', async () => {
    await close('post_quant_conv', be.conv2d(gt(V, 'vae.dec.input_latent'), vw('post_quant_conv.weight'), vw('post_quant_conv.bias')),
      V, 'vae.dec.post_quant_conv');
    const U = 'golden/unet.safetensors';
    const uw = (n: string) => gt('unet/diffusion_pytorch_model.safetensors', n);
    await close('unet conv_norm_out', be.groupNorm(gt(U, 'unet.t0.up_blocks.1'), uw('conv_norm_out.weight'), uw('conv_norm_out.bias'),
      { groups: 32, eps: 1e-5 }), U, 'unet.t0.conv_norm_out');
  });
});

describe('cpu fused op options (the separate ops they replace, on hand cases)', () => {
  it('conv2d channelBias (row n of the table from `offset`) and residual, in that order after the bias', async () => {
    // 1x1 conv of a [2,1,1,2] map with w = [1, 2], b = [0.5, -1]: y[n, c, p] = x * w[c] + b[c] + table[n, 1 + c] + r
    const x = T([1, 2, 3, 4], [2, 1, 1, 2]);
    const table = T([10, 20, 30, 40, 50, 60], [2, 3]);
    const r = T([0.25, 0.25, 0.25, 0.25, 1, 1, 1, 1], [2, 2, 1, 2]);
    const y = be.conv2d(x, T([1, 2], [2, 1, 1, 1]), T([0.5, -1], [2]), { channelBias: { table, offset: 1 }, residual: r });
    expect(Array.from(await read(y))).toEqual([
      1 + 0.5 + 20 + 0.25, 2 + 0.5 + 20 + 0.25, 2 - 1 + 30 + 0.25, 4 - 1 + 30 + 0.25,
      3 + 0.5 + 50 + 1, 4 + 0.5 + 50 + 1, 6 - 1 + 60 + 1, 8 - 1 + 60 + 1,
    ]);
    expect(() => be.conv2d(x, T([1, 2], [2, 1, 1, 1]), null, { channelBias: { table, offset: 2 } })).toThrow(/channelBias/);
  });

  it('conv2d token layouts: an identity 1x1 conv writes tokens [N,HW,C] and reads them back to NCHW', async () => {
    const x = seq(2 * 3 * 2 * 2, 11); // [2,3,2,2]
    const eye = T([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3, 1, 1]);
    const tok = be.conv2d(T(x, [2, 3, 2, 2]), eye, null, { outputTokens: true });
    expect(tok.shape).toEqual([2, 4, 3]);
    const want: number[] = [];
    for (let n = 0; n < 2; n++) for (let p = 0; p < 4; p++) for (let c = 0; c < 3; c++) want.push(x[(n * 3 + c) * 4 + p]);
    expect(Array.from(await read(tok))).toEqual(want);
    const back = be.conv2d(tok, eye, null, { inputTokens: [2, 2], residual: T(x, [2, 3, 2, 2]) });
    expect(back.shape).toEqual([2, 3, 2, 2]);
    expect(Array.from(await read(back))).toEqual(Array.from(x, (v) => f(2 * v)));
  });

  it('conv2d upsample: an identity 1x1 conv of the nearest-resized map 2x3 -> 4x5', async () => {
    const y = be.conv2d(T([1, 2, 3, 4, 5, 6], [1, 1, 2, 3]), T([1], [1, 1, 1, 1]), null, { upsample: [4, 5] });
    expect(y.shape).toEqual([1, 1, 4, 5]);
    // rows 0,0,1,1; columns floor(x * 3 / 5) = 0,0,1,1,2
    expect(Array.from(await read(y))).toEqual([1, 1, 2, 2, 3, 1, 1, 2, 2, 3, 4, 4, 5, 5, 6, 4, 4, 5, 5, 6]);
  });

  it('linear GEGLU epilogue, LayerNorm prologue and residual', async () => {
    // h = x @ w^T with w = [[1,0],[0,1],[1,1],[0,0]] and bias [0,0,0,-1]: x = [1, 2] -> h = [1, 2, 3, -1]
    const w = T([1, 0, 0, 1, 1, 1, 0, 0], [4, 2]);
    const y = be.linear(T([1, 2], [1, 1, 2]), w, T([0, 0, 0, -1], [4]), { geglu: true, residual: T([10, 20], [1, 1, 2]) });
    expect(y.shape).toEqual([1, 1, 2]);
    expectClose('geglu', await read(y), [1 * 2.99595030590511, 2 * -0.15865525393145707].map((v, i) => v + [10, 20][i]), 1e-6);
    // row [1, 2, 3, 4]: mean 2.5, biased variance 1.25; identity weight, gamma [1, 2, 1, 1], beta [0, 0, 0, 1]
    const id = T([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], [4, 4]);
    const ln = { gamma: T([1, 2, 1, 1], [4]), beta: T([0, 0, 0, 1], [4]), eps: 1e-5 };
    const n = await read(be.linear(T([1, 2, 3, 4], [1, 4]), id, null, { layerNorm: ln }));
    const rs = 1 / Math.sqrt(1.25 + 1e-5);
    expectClose('ln prologue', n, [-1.5 * rs, 2 * -0.5 * rs, 0.5 * rs, 1.5 * rs + 1], 1e-6);
    expect(() => be.linear(T([1, 2, 3], [1, 3]), T([1, 2, 3], [1, 3]), null, { geglu: true })).toThrow(/even/);
  });

  it('lincomb rounds like the scale-then-add chain and reads batch entries', async () => {
    const e = seq(3 * 5, 21);
    const y = be.lincomb([
      { t: T(e, [3, 5]), batch: 0, coef: 7.5 },
      { t: T(e, [3, 5]), batch: 1, coef: -6 },
      { t: T(e, [3, 5]), batch: 2, coef: -0.5 },
    ]);
    expect(y.shape).toEqual([1, 5]);
    const want = Array.from({ length: 5 }, (_, i) => f(f(f(e[i] * 7.5) + f(e[5 + i] * -6)) + f(e[10 + i] * -0.5)));
    expect(Array.from(await read(y))).toEqual(want);
    expect(() => be.lincomb([{ t: T(e, [3, 5]), coef: 1, batch: 3 }])).toThrow(/out of range/);
  });

  it('concatWeights stacks along dim 0 and keeps the dtype', async () => {
    const a = be.weight({ dtype: 'f16', data: Uint16Array.from([0x3c00, 0x4000]) }, [1, 2]); // 1, 2
    const b = be.weight({ dtype: 'f16', data: Uint16Array.from([0xc000, 0x3800, 0x0000, 0x7bff]) }, [2, 2]); // -2, 0.5, 0, 65504
    const y = be.concatWeights([a, b]);
    expect(y.shape).toEqual([3, 2]);
    expect(y.dtype).toBe('f16');
    expect(Array.from(await read(y))).toEqual([1, 2, -2, 0.5, 0, 65504]);
  });
});
