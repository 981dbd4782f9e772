// The fused op options (conv2d: token layouts in and out, nearest upsample, per-item channel bias, residual;
// linear: LayerNorm prologue, GEGLU and residual epilogues; lincomb; concatWeights) on WebGPU against two
// references: the CPU reference backend (the separate ops the fusions replace) and naive f64 loops written here.
// Weights f32, f16 native and f16 packed; activations f32 and (with shader-f16) f16; every output carries a
// sentinel region. Last, the counting backend must record what the runtime records for a sequence of them.
import { afterAll, describe, expect, it } from 'vitest';
import type { GpuTensor, RuntimeStats } from '../../src/engine/gpu/runtime.ts';
import { CountingBackend } from '../../src/engine/ops/counting/backend.ts';
import { CpuBackend } from '../../src/engine/ops/cpu/backend.ts';
import type { Backend, Conv2dOptions, LinearOptions, Tensor, WeightData } from '../../src/engine/ops/ops.ts';
import type { WebGpuBackend } from '../../src/engine/ops/webgpu/backend.ts';
import { f32ToHalfBits, halfBitsToF32 } from '../../src/engine/weights/f16.ts';
import { expectClose, stats } from '../helpers/compare.ts';
import { expectF16, testBackend } from '../helpers/gpu.ts';
import { rand } from '../helpers/random.ts';

/** Weight storage, or 'act16': f32 weights with f16 activations (inputs, residuals and outputs stored as f16). */
type Mode = 'f32' | 'f16' | 'f16packed' | 'act16';
const MODES: readonly Mode[] = ['f32', 'f16', 'f16packed', 'act16'];
/** f32 storage: the 1e-4 bar of the other kernel tests; f16 activations: half-precision storage of every tensor. */
const REL: Record<Mode, number> = { f32: 1e-4, f16: 1e-4, f16packed: 1e-4, act16: 4e-3 };

// ---- data ----------------------------------------------------------------------------------------------------
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const toHalf = (v: Float32Array) => halfBitsToF32(f32ToHalfBits(v));

/** Weight data in the mode's storage and the exact values a reference must use. */
function weightOf(vals: Float32Array, mode: Mode): { w: WeightData; ref: Float32Array } {
  if (mode === 'f32' || mode === 'act16') return { w: { dtype: 'f32', data: vals }, ref: vals };
  const bits = f32ToHalfBits(vals);
  return { w: { dtype: 'f16', data: bits }, ref: halfBitsToF32(bits) };
}

/** Activation values as the mode stores them (f16-rounded under act16), so the references see the same inputs. */
const actOf = (vals: Float32Array, mode: Mode) => (mode === 'act16' ? toHalf(vals) : vals);

/** An activation tensor: uploaded f32, then (act16) copied into the f16 activation storage by an op. */
function act(b: Backend, vals: Float32Array, shape: number[]): Tensor {
  const t = b.fromArray(vals, shape);
  if (b.name !== 'webgpu' || (b as WebGpuBackend).rt.activationDtype === 'f32') return t;
  const h = b.scale(t, 1);
  b.release(t);
  return h;
}

const backends = new Map<Mode, Promise<WebGpuBackend>>();
function backend(mode: Mode): Promise<WebGpuBackend> {
  let p = backends.get(mode);
  if (!p) {
    p = (async () => {
      const be = await testBackend(mode === 'f16packed' ? { disableF16: true } : {});
      if (mode === 'f16packed') expect(be.rt.f16, 'disableF16 backend must use packed f16').toBe(false);
      if ((mode === 'f16' || mode === 'act16') && !be.rt.f16) expect(expectF16(), 'this Vulkan driver must offer shader-f16').toBe(false);
      if (mode === 'act16' && be.rt.f16) be.rt.activationDtype = 'f16';
      be.rt.sentinel = true;
      return be;
    })();
    backends.set(mode, p);
  }
  return p;
}

const worst = new Map<string, number>();
const cpuBe = new CpuBackend();

async function compare(op: string, mode: Mode, shape: number[], build: (b: Backend) => Tensor, naive: Float32Array): Promise<void> {
  const be = await backend(mode);
  const y = build(be) as GpuTensor;
  expect([...y.shape]).toEqual(shape);
  expect(y.dtype).toBe(op === 'lincomb' ? 'f32' : be.rt.activationDtype);
  const ours = await be.read(y);
  await be.rt.checkSentinel(y, op);
  const cpuY = build(cpuBe);
  expect([...cpuY.shape]).toEqual(shape);
  for (const [name, ref] of Object.entries({ cpu: await cpuBe.read(cpuY), naive })) {
    expect(ref.length).toBe(size(shape));
    const d = expectClose(`${op} ${mode} vs ${name}`, ours, ref, REL[mode]);
    const key = `${op} ${mode}`;
    worst.set(key, Math.max(worst.get(key) ?? 0, d / Math.max(1, stats(ref).std)));
  }
  be.release(y);
}

afterAll(async () => {
  console.log('[fused] max normalized error |ours - ref| / max(1, std(ref)):\n' +
    [...worst].map(([k, v]) => `  ${k.padEnd(22)} ${v.toExponential(2)}`).join('\n'));
  for (const p of backends.values()) (await p).rt.sentinel = false;
});

// ---- conv2d ------------------------------------------------------------------------------------------------------
interface ConvCase {
  n: number;
  cin: number;
  hw: [number, number];
  w: [number, number, number, number];
  o: { stride?: number; pad?: [number, number, number, number]; tokensIn?: boolean; upsample?: [number, number]; tokensOut?: boolean };
  /** [S, offset] of the channel-bias table, or none. */
  cb?: [number, number];
  res?: boolean;
  why: string;
}

const convCases: ConvCase[] = [
  { n: 2, cin: 6, hw: [7, 5], w: [10, 6, 3, 3], o: {}, cb: [17, 4], res: true, why: 'resnet conv1 + time bias, conv2 + skip' },
  { n: 2, cin: 8, hw: [5, 6], w: [70, 8, 1, 1], o: { tokensOut: true }, why: 'proj_in: 1x1 writing tokens, 2 channel tiles' },
  { n: 2, cin: 12, hw: [5, 6], w: [9, 12, 1, 1], o: { tokensIn: true }, res: true, why: 'proj_out: tokens in, NCHW + residual' },
  { n: 1, cin: 5, hw: [4, 3], w: [7, 5, 3, 3], o: { upsample: [8, 6] }, why: 'Upsample2D x2 then 3x3' },
  { n: 1, cin: 5, hw: [4, 3], w: [7, 5, 3, 3], o: { upsample: [7, 5] }, res: true, why: 'upsample to a skip size (7x5)' },
  {
    n: 2, cin: 7, hw: [3, 4], w: [5, 7, 3, 3], o: { tokensIn: true, upsample: [6, 8], stride: 2, pad: [1, 0, 0, 1], tokensOut: true },
    cb: [9, 2], res: true, why: 'everything at once, stride 2, odd padding',
  },
  { n: 3, cin: 64, hw: [9, 9], w: [96, 64, 3, 3], o: {}, cb: [200, 100], res: true, why: 'several tiles both ways, batch 3' },
];
const convReal: ConvCase = { n: 3, cin: 320, hw: [8, 8], w: [320, 320, 3, 3], o: {}, cb: [1280, 640], res: true, why: 'SD 320 conv1/conv2 fusions' };

/** Independent f64 loop: x NCHW or tokens, nearest upsample, conv, bias, channel bias, residual, NCHW or tokens. */
function naiveConv(x: Float32Array, c: ConvCase, w: Float32Array, b: Float32Array | null, cb: Float32Array | null, res: Float32Array | null): Float32Array {
  const { n, cin } = c;
  const [h, wd] = c.hw;
  const [cout, , kh, kw] = c.w;
  const [uh, uw] = c.o.upsample ?? [h, wd];
  const stride = c.o.stride ?? 1;
  const [pt, pb, pl, pr] = c.o.pad ?? [kh >> 1, kh >> 1, kw >> 1, kw >> 1];
  const ho = Math.floor((uh + pt + pb - kh) / stride) + 1, wo = Math.floor((uw + pl + pr - kw) / stride) + 1;
  const xAt = (i: number, ci: number, y: number, xx: number) => {
    const sy = Math.floor((y * h) / uh), sx = Math.floor((xx * wd) / uw);
    return c.o.tokensIn ? x[(i * h * wd + sy * wd + sx) * cin + ci] : x[((i * cin + ci) * h + sy) * wd + sx];
  };
  const out = new Float32Array(n * cout * ho * wo);
  for (let i = 0; i < n; i++) for (let co = 0; co < cout; co++) for (let oy = 0; oy < ho; oy++) for (let ox = 0; ox < wo; ox++) {
    let s = b ? b[co] : 0;
    for (let ci = 0; ci < cin; ci++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
      const iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
      if (iy >= 0 && iy < uh && ix >= 0 && ix < uw) s += xAt(i, ci, iy, ix) * w[((co * cin + ci) * kh + ky) * kw + kx];
    }
    if (cb) s += cb[i * c.cb![0] + c.cb![1] + co];
    const o = c.o.tokensOut ? (i * ho * wo + oy * wo + ox) * cout + co : ((i * cout + co) * ho + oy) * wo + ox;
    out[o] = s + (res ? res[o] : 0);
  }
  return out;
}

function convOutShape(c: ConvCase): number[] {
  const [h, wd] = c.o.upsample ?? c.hw;
  const [, , kh, kw] = c.w;
  const stride = c.o.stride ?? 1;
  const [pt, pb, pl, pr] = c.o.pad ?? [kh >> 1, kh >> 1, kw >> 1, kw >> 1];
  const ho = Math.floor((h + pt + pb - kh) / stride) + 1, wo = Math.floor((wd + pl + pr - kw) / stride) + 1;
  return c.o.tokensOut ? [c.n, ho * wo, c.w[0]] : [c.n, c.w[0], ho, wo];
}

async function convCase(c: ConvCase, mode: Mode, seed: number): Promise<void> {
  const [h, wd] = c.hw;
  const xShape = c.o.tokensIn ? [c.n, h * wd, c.cin] : [c.n, c.cin, h, wd];
  const yShape = convOutShape(c);
  const K = c.w[1] * c.w[2] * c.w[3];
  const xv = actOf(rand(size(xShape), seed), mode);
  const wv = weightOf(rand(size(c.w), seed + 1, 1 / Math.sqrt(K)), mode);
  const bv = weightOf(rand(c.w[0], seed + 2), mode);
  const cbv = c.cb ? actOf(rand(c.n * c.cb[0], seed + 3), mode) : null;
  const rv = c.res ? actOf(rand(size(yShape), seed + 4), mode) : null;
  const naive = naiveConv(xv, c, wv.ref, bv.ref, cbv, rv);
  await compare('conv2d', mode, yShape, (b) => {
    const o: Conv2dOptions = {
      stride: c.o.stride, pad: c.o.pad, upsample: c.o.upsample, outputTokens: c.o.tokensOut,
      inputTokens: c.o.tokensIn ? c.hw : undefined,
      channelBias: cbv ? { table: act(b, cbv, [c.n, c.cb![0]]), offset: c.cb![1] } : undefined,
      residual: rv ? act(b, rv, yShape) : undefined,
    };
    return b.conv2d(act(b, xv, xShape), b.weight(wv.w, c.w), b.weight(bv.w, [c.w[0]]), o);
  }, naive);
}

describe('conv2d fused options', () => {
  for (const mode of MODES) {
    const cases = mode === 'f32' ? [...convCases, convReal] : mode === 'act16' ? [...convCases, convReal] : convCases.slice(0, 3).concat(convCases[5]);
    for (const [i, c] of cases.entries()) {
      it(`${mode}: ${c.why}`, () => convCase(c, mode, 300 + 10 * i));
    }
  }

  it('checks the fused arguments like the counting backend', async () => {
    const be = await backend('f32');
    const x = be.fromArray(rand(2 * 4 * 9, 1), [2, 4, 3, 3]);
    const w = be.weight({ dtype: 'f32', data: rand(5 * 4 * 9, 2) }, [5, 4, 3, 3]);
    expect(() => be.conv2d(x, w, null, { channelBias: { table: be.fromArray(rand(2 * 6, 3), [2, 6]), offset: 2 } })).toThrow(/channelBias/);
    expect(() => be.conv2d(x, w, null, { residual: be.fromArray(rand(2 * 5 * 8, 3), [2, 5, 8]) })).toThrow(/residual/);
    expect(() => be.conv2d(be.fromArray(rand(2 * 9 * 4, 1), [2, 9, 4]), w, null, { inputTokens: [3, 4] })).toThrow(/tokens/);
    for (const b of [new CpuBackend(), new CountingBackend()]) {
      const xc = b.fromArray(rand(2 * 4 * 9, 1), [2, 4, 3, 3]);
      const wc = b.weight({ dtype: 'f32', data: rand(5 * 4 * 9, 2) }, [5, 4, 3, 3]);
      expect(() => b.conv2d(xc, wc, null, { channelBias: { table: b.fromArray(rand(2 * 6, 3), [2, 6]), offset: 2 } })).toThrow(/channelBias/);
    }
  });
});

// ---- linear ------------------------------------------------------------------------------------------------------
interface LinCase { x: number[]; n: number; bias: boolean; ln?: boolean; geglu?: boolean; res?: boolean; offset?: number; why: string }
const linCases: LinCase[] = [
  { x: [2, 7, 40], n: 70, bias: true, res: true, why: 'to_out + residual, 2 column tiles' },
  { x: [2, 9, 24], n: 90, bias: true, geglu: true, why: 'GEGLU, D = 45 (partial 32-column tiles)' },
  { x: [3, 5, 37], n: 20, bias: false, ln: true, offset: 3, why: 'LayerNorm prologue, mean 3, K = 37' },
  { x: [2, 70, 48], n: 80, bias: true, ln: true, geglu: true, res: true, offset: -1, why: 'all three, 3 row tiles' },
];
const linReal: LinCase = { x: [2, 64, 320], n: 2560, bias: true, ln: true, geglu: true, why: 'SD 320 LN3 + GEGLU (D = 1280)' };

function naiveLinear(x: Float32Array, c: LinCase, w: Float32Array, b: Float32Array | null, g: Float32Array, be: Float32Array, res: Float32Array | null): Float32Array {
  const K = c.x[c.x.length - 1], M = size(c.x) / K, D = c.geglu ? c.n / 2 : c.n;
  const y = new Float32Array(M * D);
  const row = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) row[k] = x[m * K + k];
    if (c.ln) {
      let mu = 0, v = 0;
      for (let k = 0; k < K; k++) mu += row[k];
      mu /= K;
      for (let k = 0; k < K; k++) v += (row[k] - mu) ** 2;
      const rs = 1 / Math.sqrt(v / K + 1e-5);
      for (let k = 0; k < K; k++) row[k] = (row[k] - mu) * rs * g[k] + be[k];
    }
    const h = (n: number) => {
      let s = b ? b[n] : 0;
      for (let k = 0; k < K; k++) s += row[k] * w[n * K + k];
      return s;
    };
    for (let d = 0; d < D; d++) {
      let v = h(d);
      if (c.geglu) {
        const gt = h(D + d);
        v *= 0.5 * gt * (1 + erf(gt / Math.SQRT2));
      }
      y[m * D + d] = v + (res ? res[m * D + d] : 0);
    }
  }
  return y;
}

/** erf by its Taylor series in f64 (cancellation stays under 1e-10 for |x| <= 4; beyond, |1 - erf| < 2e-8). */
function erf(x: number): number {
  if (Math.abs(x) > 4) return Math.sign(x);
  let term = x, sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

async function linCase(c: LinCase, mode: Mode, seed: number): Promise<void> {
  const K = c.x[c.x.length - 1];
  const D = c.geglu ? c.n / 2 : c.n;
  const yShape = [...c.x.slice(0, -1), D];
  const xv = actOf(rand(size(c.x), seed, 2, c.offset ?? 0), mode);
  const wv = weightOf(rand(c.n * K, seed + 1, 1 / Math.sqrt(K)), mode);
  const bv = c.bias ? weightOf(rand(c.n, seed + 2), mode) : null;
  const gv = weightOf(rand(K, seed + 3, 0.5, 1), mode), btv = weightOf(rand(K, seed + 4, 0.5), mode);
  const rv = c.res ? actOf(rand(size(yShape), seed + 5), mode) : null;
  const naive = naiveLinear(xv, c, wv.ref, bv?.ref ?? null, gv.ref, btv.ref, rv);
  await compare('linear', mode, yShape, (b) => {
    const o: LinearOptions = {
      geglu: c.geglu,
      layerNorm: c.ln ? { gamma: b.weight(gv.w, [K]), beta: b.weight(btv.w, [K]), eps: 1e-5 } : undefined,
      residual: rv ? act(b, rv, yShape) : undefined,
    };
    return b.linear(act(b, xv, c.x), b.weight(wv.w, [c.n, K]), bv && b.weight(bv.w, [c.n]), o);
  }, naive);
}

describe('linear fused options', () => {
  for (const mode of MODES) {
    const cases = mode === 'f32' || mode === 'act16' ? [...linCases, linReal] : linCases;
    for (const [i, c] of cases.entries()) {
      it(`${mode}: ${c.why}`, () => linCase(c, mode, 500 + 10 * i));
    }
  }
});

// ---- lincomb -----------------------------------------------------------------------------------------------------
describe('lincomb (f32 output whatever the activation storage)', () => {
  for (const mode of ['f32', 'act16'] as const) {
    it(`${mode}: guidance over the batch entries of [3,4,5,6], and 1 / 2 / 4 whole-tensor terms`, async () => {
      const eps = actOf(rand(3 * 120, 700, 3), mode);
      const per = 120;
      const naive3 = Float32Array.from({ length: per }, (_, i) => 7.5 * eps[i] + (1.5 - 7.5) * eps[per + i] + (1 - 1.5) * eps[2 * per + i]);
      await compare('lincomb', mode, [1, 4, 5, 6], (b) => b.lincomb([
        { t: act(b, eps, [3, 4, 5, 6]), batch: 0, coef: 7.5 },
        { t: act(b, eps, [3, 4, 5, 6]), batch: 1, coef: 1.5 - 7.5 },
        { t: act(b, eps, [3, 4, 5, 6]), batch: 2, coef: 1 - 1.5 },
      ]), naive3);
      const ts = [0, 1, 2, 3].map((k) => actOf(rand(77, 710 + k), mode));
      const cs = [1, -0.37, 2.5e-3, 0.9];
      for (const n of [1, 2, 4]) {
        const naive = Float32Array.from({ length: 77 }, (_, i) => ts.slice(0, n).reduce((s, t, k) => s + cs[k] * t[i], 0));
        await compare('lincomb', mode, [7, 11], (b) => b.lincomb(ts.slice(0, n).map((t, k) => ({ t: act(b, t, [7, 11]), coef: cs[k] }))), naive);
      }
    });
  }

  it('a plain f32 latents term mixed with f16 activations (the scheduler after an f16 UNet)', async () => {
    const be = await backend('act16');
    const x = be.fromArray(rand(40, 720), [1, 40]); // f32 upload
    const e = act(be, toHalf(rand(40, 721)), [1, 40]);
    const y = be.lincomb([{ t: x, coef: 1 }, { t: e, coef: -0.25 }]);
    expect(y.dtype).toBe('f32');
    const xs = rand(40, 720), es = toHalf(rand(40, 721));
    expectClose('mixed lincomb', await be.read(y), xs.map((v, i) => v - 0.25 * es[i]), 1e-6);
  });

  it('rejects 0 or 5 terms, shape mismatches and batch indices out of range', async () => {
    const be = await backend('f32');
    const a = be.fromArray(rand(6, 1), [2, 3]);
    expect(() => be.lincomb([])).toThrow(/1 to 4/);
    expect(() => be.lincomb(new Array(5).fill({ t: a, coef: 1 }))).toThrow(/1 to 4/);
    expect(() => be.lincomb([{ t: a, coef: 1 }, { t: a, coef: 1, batch: 0 }])).toThrow(/differ/);
    expect(() => be.lincomb([{ t: a, coef: 1, batch: 2 }])).toThrow(/out of range/);
  });
});

// ---- concatWeights -------------------------------------------------------------------------------------------------
describe('concatWeights', () => {
  for (const mode of ['f32', 'f16', 'f16packed'] as const) {
    it(`${mode}: [3,4] + [5,4] + [2,4] -> [10,4] bit for bit, and [6] + [4] biases`, async () => {
      const be = await backend(mode);
      const parts = [[3, 4], [5, 4], [2, 4]].map((s, i) => weightOf(rand(size(s), 800 + i), mode));
      const y = be.concatWeights(parts.map((p, i) => be.weight(p.w, [[3, 4], [5, 4], [2, 4]][i]))) as GpuTensor;
      expect([...y.shape]).toEqual([10, 4]);
      expect(y.dtype).toBe(mode === 'f32' ? 'f32' : 'f16');
      const got = await be.read(y);
      await be.rt.checkSentinel(y, 'concatWeights');
      expect(Array.from(got)).toEqual(parts.flatMap((p) => Array.from(p.ref)));
      const bs = [weightOf(rand(6, 810), mode), weightOf(rand(4, 811), mode)];
      const yb = be.concatWeights([be.weight(bs[0].w, [6]), be.weight(bs[1].w, [4])]);
      expect(Array.from(await be.read(yb))).toEqual([...bs[0].ref, ...bs[1].ref]);
    });
  }

  it('a fused weight drives linear like the parts side by side', async () => {
    const be = await backend('f16');
    const [wa, wb] = [weightOf(rand(8 * 12, 820), 'f16'), weightOf(rand(6 * 12, 821), 'f16')];
    const x = rand(3 * 12, 822);
    const fused = be.linear(be.fromArray(x, [3, 12]), be.concatWeights([be.weight(wa.w, [8, 12]), be.weight(wb.w, [6, 12])]), null);
    const ya = await cpuBe.read(cpuBe.linear(cpuBe.fromArray(x, [3, 12]), cpuBe.weight(wa.w, [8, 12]), null));
    const yb = await cpuBe.read(cpuBe.linear(cpuBe.fromArray(x, [3, 12]), cpuBe.weight(wb.w, [6, 12]), null));
    const side = new Float32Array(3 * 14);
    for (let r = 0; r < 3; r++) {
      side.set(ya.subarray(r * 8, r * 8 + 8), r * 14);
      side.set(yb.subarray(r * 6, r * 6 + 6), r * 14 + 8);
    }
    expectClose('fused linear', await be.read(fused), side, 1e-5);
  });

  it('rejects mixed dtypes, mismatched trailing dims and odd f16 parts', async () => {
    for (const b of [await backend('f16'), new CpuBackend(), new CountingBackend()] as Backend[]) {
      const h = (n: number[]) => b.weight({ dtype: 'f16', data: new Uint16Array(size(n)) }, n);
      const f = (n: number[]) => b.weight({ dtype: 'f32', data: new Float32Array(size(n)) }, n);
      expect(() => b.concatWeights([h([2, 4]), f([2, 4])]), b.name).toThrow(/do not stack/);
      expect(() => b.concatWeights([f([2, 4]), f([2, 5])]), b.name).toThrow(/do not stack/);
      expect(() => b.concatWeights([h([3]), h([2])]), b.name).toThrow(/odd element count/);
    }
  });
});

// ---- the meter mirrors the runtime ---------------------------------------------------------------------------------
describe('CountingBackend records the fused ops as the runtime does', () => {
  const counters = (s: RuntimeStats) => ({
    dispatches: s.dispatches, submits: s.submits, readbacks: s.readbacks, peakBytes: s.peakBytes,
    maxBufferBytes: s.maxBufferBytes, maxBindingBytes: s.maxBindingBytes,
  });

  async function sequence(b: Backend): Promise<void> {
    const w = (shape: number[], seed: number) => b.weight({ dtype: 'f16', data: f32ToHalfBits(rand(size(shape), seed)) }, shape);
    const x = b.fromArray(rand(2 * 8 * 6 * 5, 1), [2, 8, 6, 5]);
    const table = b.linear(b.fromArray(rand(2 * 16, 2), [2, 16]), b.concatWeights([w([10, 16], 3), w([12, 16], 4)]), b.concatWeights([w([10], 5), w([12], 6)])); // [2,22]
    const h = b.conv2d(x, w([12, 8, 3, 3], 7), w([12], 8), { channelBias: { table, offset: 10 } }); // [2,12,6,5]
    const tok = b.conv2d(h, w([16, 12, 1, 1], 9), null, { outputTokens: true }); // [2,30,16]
    const ln = { gamma: w([16], 10), beta: w([16], 11), eps: 1e-5 };
    const g = b.linear(tok, w([32, 16], 12), w([32], 13), { layerNorm: ln, geglu: true, residual: tok }); // [2,30,16]
    b.release(tok);
    const y = b.conv2d(g, w([12, 16, 1, 1], 14), w([12], 15), { inputTokens: [6, 5], residual: h }); // [2,12,6,5]
    const up = b.conv2d(y, w([4, 12, 3, 3], 16), null, { upsample: [12, 10], stride: 2 }); // [2,4,6,5]
    const guided = b.lincomb([{ t: up, batch: 0, coef: 2 }, { t: up, batch: 1, coef: -1 }]);
    await b.read(guided);
    await b.read(b.lincomb([{ t: guided, coef: 1 }, { t: b.fromArray(rand(120, 17), [1, 4, 6, 5]), coef: 0.5 }]));
  }

  it('concatWeights, channel bias, token layouts, LN + GEGLU + residual, upsample, lincomb', async () => {
    const gpu = await testBackend();
    await sequence(gpu);
    const counting = new CountingBackend({ weightDtype: 'f16' });
    await sequence(counting);
    const t = counting.ledger.snapshot();
    expect({
      dispatches: t.dispatches, submits: t.submits, readbacks: t.readbacks, peakBytes: counting.plan.peakBytes,
      maxBufferBytes: counting.plan.maxBufferBytes, maxBindingBytes: counting.ledger.maxBinding.bytes,
    }).toEqual(counters(gpu.rt.stats));
    expect(gpu.rt.stats.dispatches).toBe(4 + 6 + 2); // 4 weight copies, 2 linears and 4 convs, 2 lincombs
  });
});
