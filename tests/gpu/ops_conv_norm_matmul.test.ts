// conv2d, groupNorm, layerNorm, linear and matmul WGSL kernels against two independent references: the CPU
// reference backend (fed the same WeightData, f16 bits included) and a naive f64 loop written here. Odd sizes (not tile multiples), stride 2 and the
// VAE's [0,1,0,1] padding, 1x1 convs, SD 1.5 channel counts at small spatial sizes, and f16 weights in native
// (shader-f16) and packed (u32 pairs) storage; every output carries a sentinel region to catch stray writes.
import { afterAll, describe, expect, it } from 'vitest';
import type { GpuTensor } from '../../src/engine/gpu/runtime.ts';
import type { WebGpuBackend } from '../../src/engine/ops/webgpu/backend.ts';
import type { Backend, Conv2dOptions, Tensor, WeightData } from '../../src/engine/ops/ops.ts';
import { CpuBackend } from '../../src/engine/ops/cpu/backend.ts';
import { f32ToHalfBits, halfBitsToF32 } from '../../src/engine/weights/f16.ts';
import { expectClose, stats } from '../helpers/compare.ts';
import { expectF16, testBackend } from '../helpers/gpu.ts';
import { rand } from '../helpers/random.ts';

type Mode = 'f32' | 'f16' | 'f16packed';
const REL = 1e-4;

// ---- data ----------------------------------------------------------------------------------------------------
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Weight data in the mode's storage, and the exact f32 values the reference must see. */
function weightOf(vals: Float32Array, mode: Mode): { w: WeightData; ref: Float32Array } {
  if (mode === 'f32') return { w: { dtype: 'f32', data: vals }, ref: vals };
  const bits = f32ToHalfBits(vals);
  return { w: { dtype: 'f16', data: bits }, ref: halfBitsToF32(bits) };
}

const backends = new Map<Mode, Promise<WebGpuBackend>>();
function backend(mode: Mode): Promise<WebGpuBackend> {
  let p = backends.get(mode);
  if (!p) {
    p = (async () => {
      const be = await testBackend(mode === 'f16packed' ? { disableF16: true } : {});
      if (mode === 'f16packed') expect(be.rt.f16, 'disableF16 backend must use packed f16').toBe(false);
      if (mode === 'f16' && !be.rt.f16) {
        expect(expectF16(), 'this Vulkan driver must offer shader-f16').toBe(false);
        console.warn('[ops] adapter without shader-f16: the "f16" cases exercise packed storage');
      }
      be.rt.sentinel = true;
      return be;
    })();
    backends.set(mode, p);
  }
  return p;
}

// ---- naive f64 references, independent of src/ -------------------------------------------------------------
function naiveConv(x: Float32Array, xs: number[], w: Float32Array, ws: number[], b: Float32Array | null, stride: number, pad: readonly number[]): Float32Array {
  const [n, cin, h, wd] = xs, [cout, , kh, kw] = ws, [pt, pb, pl, pr] = pad;
  const ho = Math.floor((h + pt + pb - kh) / stride) + 1, wo = Math.floor((wd + pl + pr - kw) / stride) + 1;
  const y = new Float32Array(n * cout * ho * wo);
  for (let i = 0; i < n; i++) for (let co = 0; co < cout; co++) for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++) {
    let s = b ? b[co] : 0;
    for (let ci = 0; ci < cin; ci++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
      if (iy >= 0 && iy < h && ix >= 0 && ix < wd) s += x[((i * cin + ci) * h + iy) * wd + ix] * w[((co * cin + ci) * kh + ky) * kw + kx];
    }
    y[((i * cout + co) * ho + oy) * wo + ox] = s;
  }
  return y;
}

/** Normalizes `count` runs of `len` values; channel of element j of run r is chan(r, j). */
function naiveNorm(x: Float32Array, runs: number, len: number, chan: (r: number, j: number) => number, g: Float32Array, b: Float32Array, eps: number, silu = false): Float32Array {
  const y = new Float32Array(x.length);
  for (let r = 0; r < runs; r++) {
    let m = 0, v = 0;
    for (let j = 0; j < len; j++) m += x[r * len + j];
    m /= len;
    for (let j = 0; j < len; j++) v += (x[r * len + j] - m) ** 2;
    const rs = 1 / Math.sqrt(v / len + eps);
    for (let j = 0; j < len; j++) {
      const c = chan(r, j);
      const o = (x[r * len + j] - m) * rs * g[c] + b[c];
      y[r * len + j] = silu ? o / (1 + Math.exp(-o)) : o;
    }
  }
  return y;
}

function naiveMatmul(a: Float32Array, b: Float32Array, B: number, M: number, K: number, N: number, bTransposed: boolean, bias: Float32Array | null): Float32Array {
  const y = new Float32Array(B * M * N);
  for (let z = 0; z < B; z++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = bias ? bias[j] : 0;
    for (let k = 0; k < K; k++) s += a[(z * M + i) * K + k] * (bTransposed ? b[j * K + k] : b[(z * K + k) * N + j]);
    y[(z * M + i) * N + j] = s;
  }
  return y;
}

// ---- harness ---------------------------------------------------------------------------------------------------
const worst = new Map<string, number>(); // op/mode -> max normalized error
const cpuBe = new CpuBackend();

/** Runs `build` on the mode's WebGPU backend and on the CPU reference; compares with both references. */
async function compare(op: string, mode: Mode, shape: number[], build: (b: Backend) => Tensor, naive: Float32Array): Promise<void> {
  const be = await backend(mode);
  const y = build(be) as GpuTensor;
  expect([...y.shape]).toEqual(shape);
  const ours = await be.read(y);
  await be.rt.checkSentinel(y, op);
  const cpuY = build(cpuBe);
  expect([...cpuY.shape]).toEqual(shape);
  for (const [name, ref] of Object.entries({ cpu: await cpuBe.read(cpuY), naive })) {
    expect(ref.length).toBe(size(shape));
    const d = expectClose(`${op} ${mode} vs ${name}`, ours, ref, REL);
    const key = `${op} ${mode}`;
    worst.set(key, Math.max(worst.get(key) ?? 0, d / Math.max(1, stats(ref).std)));
  }
  be.release(y);
}

afterAll(async () => {
  console.log('[ops] max normalized error |ours - ref| / max(1, std(ref)):\n' +
    [...worst].map(([k, v]) => `  ${k.padEnd(22)} ${v.toExponential(2)}`).join('\n'));
  for (const p of backends.values()) (await p).rt.sentinel = false;
});

// ---- conv2d ------------------------------------------------------------------------------------------------------
interface ConvCase { x: number[]; w: number[]; bias: boolean; o?: Conv2dOptions; why: string }
const convSmall: ConvCase[] = [
  { x: [2, 3, 7, 9], w: [5, 3, 3, 3], bias: true, why: 'C=3, odd H/W, batch 2' },
  { x: [1, 4, 9, 8], w: [6, 4, 3, 3], bias: true, o: { stride: 2, pad: [0, 1, 0, 1] }, why: 'VAE downsample [0,1,0,1] s2' },
  { x: [1, 5, 7, 7], w: [3, 5, 3, 3], bias: false, o: { stride: 2 }, why: 'UNet downsample pad 1 s2, no bias' },
  { x: [2, 6, 5, 3], w: [70, 6, 1, 1], bias: true, why: '1x1, Cout 70' },
  { x: [2, 8, 13, 11], w: [67, 8, 3, 3], bias: true, why: 'several tiles both ways, K=72' },
];
const convReal: ConvCase[] = [
  { x: [1, 320, 8, 8], w: [320, 320, 3, 3], bias: true, why: 'SD 320->320 3x3' },
  { x: [1, 640, 4, 4], w: [1280, 640, 3, 3], bias: true, why: 'SD 640->1280 3x3' },
  { x: [1, 2560, 4, 4], w: [1280, 2560, 1, 1], bias: true, why: 'SD 2560->1280 1x1' },
];

async function convCase(c: ConvCase, mode: Mode, seed: number): Promise<void> {
  const K = c.w[1] * c.w[2] * c.w[3];
  const xv = rand(size(c.x), seed), wv = weightOf(rand(size(c.w), seed + 1, 1 / Math.sqrt(K)), mode);
  const bv = c.bias ? weightOf(rand(c.w[0], seed + 2), mode) : null;
  const stride = c.o?.stride ?? 1;
  const pad = c.o?.pad ?? [c.w[2] >> 1, c.w[2] >> 1, c.w[3] >> 1, c.w[3] >> 1];
  const ho = Math.floor((c.x[2] + pad[0] + pad[1] - c.w[2]) / stride) + 1;
  const wo = Math.floor((c.x[3] + pad[2] + pad[3] - c.w[3]) / stride) + 1;
  const naive = naiveConv(xv, c.x, wv.ref, c.w, bv?.ref ?? null, stride, pad);
  await compare('conv2d', mode, [c.x[0], c.w[0], ho, wo],
    (b) => b.conv2d(b.fromArray(xv, c.x), b.weight(wv.w, c.w), bv && b.weight(bv.w, [c.w[0]]), c.o), naive);
}

describe('conv2d (implicit GEMM)', () => {
  for (const mode of ['f32', 'f16', 'f16packed'] as const) {
    const cases = mode === 'f32' ? [...convSmall, ...convReal] : [convSmall[1], convSmall[3], convSmall[4], convReal[0]];
    for (const [i, c] of cases.entries()) {
      it(`${mode} weights: x ${c.x} w ${c.w} (${c.why})`, () => convCase(c, mode, 100 + i));
    }
  }
});

// ---- group norm --------------------------------------------------------------------------------------------------
interface GnCase { x: number[]; groups: number; eps: number; silu: boolean; offset: number }
const gnCases: GnCase[] = [
  { x: [2, 12, 5, 7], groups: 4, eps: 1e-5, silu: true, offset: 0 },
  { x: [1, 1280, 4, 4], groups: 32, eps: 1e-5, silu: false, offset: 0 },
  { x: [1, 64, 33, 35], groups: 32, eps: 1e-6, silu: true, offset: 3 },
  { x: [3, 6, 10], groups: 3, eps: 1e-6, silu: false, offset: -1 },
  { x: [2, 32], groups: 8, eps: 1e-5, silu: true, offset: 0 },
];

describe('groupNorm', () => {
  for (const mode of ['f32', 'f16', 'f16packed'] as const) {
    const cases = mode === 'f32' ? gnCases : gnCases.slice(0, 3);
    for (const [i, c] of cases.entries()) {
      it(`${mode} affine: x ${c.x}, ${c.groups} groups${c.silu ? ' + SiLU' : ''}, mean ${c.offset}`, async () => {
        const C = c.x[1], S = size(c.x) / (c.x[0] * C), cpg = C / c.groups;
        const xv = rand(size(c.x), 200 + i, 2, c.offset);
        const g = weightOf(rand(C, 210 + i, 0.5, 1), mode), b = weightOf(rand(C, 220 + i, 0.5), mode);
        const o = { groups: c.groups, eps: c.eps, silu: c.silu };
        const chan = (r: number, j: number) => (r % c.groups) * cpg + Math.floor(j / S);
        const naive = naiveNorm(xv, c.x[0] * c.groups, cpg * S, chan, g.ref, b.ref, c.eps, c.silu);
        await compare('groupNorm', mode, c.x,
          (be) => be.groupNorm(be.fromArray(xv, c.x), be.weight(g.w, [C]), be.weight(b.w, [C]), o), naive);
      });
    }
  }
});

// ---- layer norm --------------------------------------------------------------------------------------------------
const lnCases: { x: number[]; offset: number }[] = [
  { x: [3, 7, 37], offset: 0 },
  { x: [2, 5, 1280], offset: 4 },
  { x: [4, 320], offset: 0 },
  { x: [1, 200], offset: -2 },
];

describe('layerNorm', () => {
  for (const mode of ['f32', 'f16', 'f16packed'] as const) {
    const cases = mode === 'f32' ? lnCases : lnCases.slice(0, 2);
    for (const [i, c] of cases.entries()) {
      it(`${mode} affine: x ${c.x}, mean ${c.offset}`, async () => {
        const C = c.x[c.x.length - 1];
        const xv = rand(size(c.x), 300 + i, 1.5, c.offset);
        const g = weightOf(rand(C, 310 + i, 0.5, 1), mode), b = weightOf(rand(C, 320 + i, 0.5), mode);
        const naive = naiveNorm(xv, size(c.x) / C, C, (_r, j) => j, g.ref, b.ref, 1e-5);
        await compare('layerNorm', mode, c.x,
          (be) => be.layerNorm(be.fromArray(xv, c.x), be.weight(g.w, [C]), be.weight(b.w, [C]), 1e-5), naive);
      });
    }
  }

  it('f32: more rows than one grid dimension holds (66000 rows, folded launch)', async () => {
    const shape = [66000, 3];
    const xv = rand(size(shape), 390, 1);
    const g = weightOf(rand(3, 391, 0.5, 1), 'f32'), b = weightOf(rand(3, 392, 0.5), 'f32');
    const naive = naiveNorm(xv, 66000, 3, (_r, j) => j, g.ref, b.ref, 1e-5);
    await compare('layerNorm', 'f32', shape,
      (be) => be.layerNorm(be.fromArray(xv, shape), be.weight(g.w, [3]), be.weight(b.w, [3]), 1e-5), naive);
  });
});

// ---- linear ------------------------------------------------------------------------------------------------------
interface LinCase { x: number[]; n: number; bias: boolean; why: string }
const linCases: LinCase[] = [
  { x: [3, 77], n: 33, bias: true, why: 'K=77' },
  { x: [2, 5, 77], n: 65, bias: false, why: '3-D x, no bias' },
  { x: [70, 40], n: 130, bias: true, why: 'several tiles both ways' },
  { x: [3, 320], n: 2560, bias: true, why: 'SD 320->2560' },
  { x: [2, 1280], n: 10240, bias: true, why: 'SD 1280->10240' },
];

describe('linear', () => {
  for (const mode of ['f32', 'f16', 'f16packed'] as const) {
    const cases = mode === 'f32' ? linCases : [linCases[1], linCases[2], linCases[3]];
    for (const [i, c] of cases.entries()) {
      it(`${mode} weights: x ${c.x} -> N ${c.n} (${c.why})`, async () => {
        const K = c.x[c.x.length - 1], M = size(c.x) / K;
        const xv = rand(size(c.x), 400 + i), wv = weightOf(rand(c.n * K, 410 + i, 1 / Math.sqrt(K)), mode);
        const bv = c.bias ? weightOf(rand(c.n, 420 + i), mode) : null;
        const naive = naiveMatmul(xv, wv.ref, 1, M, K, c.n, true, bv?.ref ?? null);
        await compare('linear', mode, [...c.x.slice(0, -1), c.n],
          (be) => be.linear(be.fromArray(xv, c.x), be.weight(wv.w, [c.n, K]), bv && be.weight(bv.w, [c.n])), naive);
      });
    }
  }
});

// ---- matmul (activations only: no f16 variant) --------------------------------------------------------------------
const mmCases: [number, number, number, number][] = [
  [2, 17, 77, 33],
  [1, 64, 64, 64],
  [3, 70, 130, 70],
  [2, 5, 40, 200],
];

describe('matmul', () => {
  for (const [i, [B, M, K, N]] of mmCases.entries()) {
    it(`f32: [${B},${M},${K}] x [${B},${K},${N}]`, async () => {
      const av = rand(B * M * K, 500 + i), bv = rand(B * K * N, 510 + i, 1 / Math.sqrt(K));
      await compare('matmul', 'f32', [B, M, N],
        (be) => be.matmul(be.fromArray(av, [B, M, K]), be.fromArray(bv, [B, K, N])), naiveMatmul(av, bv, B, M, K, N, false, null));
    });
  }
});
