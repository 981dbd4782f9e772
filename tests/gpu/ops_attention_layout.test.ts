// Attention, softmax, GEGLU, layout, embedding and image WGSL kernels against the CPU reference backend and, for
// attention, a naive f64 loop written here; timestep embedding and image conversion also against diffusers
// goldens. Sizes that are not tile multiples, SD 1.5 head dims (40, 80, 160, the VAE's 512, CLIP's causal 64),
// f16 tables in native and packed storage; every GPU output carries a sentinel region to catch stray writes.
import { afterAll, describe, expect, it } from 'vitest';
import type { GpuTensor } from '../../src/engine/gpu/runtime.ts';
import type { WebGpuBackend } from '../../src/engine/ops/webgpu/backend.ts';
import { CpuBackend } from '../../src/engine/ops/cpu/backend.ts';
import type { AttentionOptions, Tensor } from '../../src/engine/ops/ops.ts';
import { f32ToHalfBits } from '../../src/engine/weights/f16.ts';
import { expectClose } from '../helpers/compare.ts';
import { expectF16, testBackend } from '../helpers/gpu.ts';
import { golden, goldenFile } from '../helpers/golden_file.ts';
import { rand } from '../helpers/random.ts';

type Mode = 'f32' | 'f16' | 'f16packed';
const cpu = new CpuBackend();
const started = Date.now();

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const backends = new Map<Mode, Promise<WebGpuBackend>>();
function backend(mode: Mode = 'f32'): Promise<WebGpuBackend> {
  let p = backends.get(mode);
  if (!p) {
    p = (async () => {
      const be = await testBackend(mode === 'f16packed' ? { disableF16: true } : {});
      if (mode === 'f16packed') expect(be.rt.f16, 'disableF16 backend must use packed f16').toBe(false);
      if (mode === 'f16' && !be.rt.f16) expect(expectF16(), 'this Vulkan driver must offer shader-f16').toBe(false);
      be.rt.sentinel = true;
      return be;
    })();
    backends.set(mode, p);
  }
  return p;
}

const worst = new Map<string, number>();
function record(op: string, err: number): void {
  worst.set(op, Math.max(worst.get(op) ?? 0, err));
}
afterAll(() => {
  const lines = [...worst].map(([op, e]) => `  ${op.padEnd(16)} ${e.toExponential(2)}`);
  console.log(`[ops] max |ours - ref| per op (${((Date.now() - started) / 1000).toFixed(1)} s):\n${lines.join('\n')}`);
});

/** Reads a GPU result (checking its sentinel region) and the CPU reference, and compares them. */
async function check(op: string, be: WebGpuBackend, y: Tensor, ref: Tensor, rel: number): Promise<Float32Array> {
  await be.rt.checkSentinel(y as GpuTensor, op);
  expect([...y.shape]).toEqual([...ref.shape]);
  const ours = await be.read(y);
  record(op, expectClose(`${op} vs CpuBackend`, ours, await cpu.read(ref), rel));
  return ours;
}

// ---- attention ----------------------------------------------------------------------------------------------
/** Naive f64 attention, independent of src/: q [B,Nq,C], k/v [B,Nk,C]. */
function naiveAttention(q: Float32Array, k: Float32Array, v: Float32Array, B: number, Nq: number, Nk: number, C: number, o: AttentionOptions): Float64Array {
  const D = C / o.heads, scale = o.scale ?? D ** -0.5;
  const out = new Float64Array(B * Nq * C), s = new Float64Array(Nk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < o.heads; h++)
      for (let i = 0; i < Nq; i++) {
        const n = o.causal ? i + 1 : Nk;
        for (let j = 0; j < n; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[(b * Nq + i) * C + h * D + d] * k[(b * Nk + j) * C + h * D + d];
          s[j] = dot * scale;
        }
        const m = Math.max(...s.subarray(0, n));
        let sum = 0;
        for (let j = 0; j < n; j++) sum += (s[j] = Math.exp(s[j] - m));
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += s[j] * v[(b * Nk + j) * C + h * D + d];
          out[(b * Nq + i) * C + h * D + d] = acc / sum;
        }
      }
  return out;
}

interface AttnCase { B: number; Nq: number; Nk: number; H: number; D: number; causal?: boolean; scale?: number; qScale?: number; why: string }
const attnCases: AttnCase[] = [
  { B: 2, Nq: 37, Nk: 37, H: 8, D: 8, why: 'self, D 8' },
  { B: 1, Nq: 300, Nk: 300, H: 8, D: 40, why: 'self, SD 1.5 first block heads' },
  { B: 2, Nq: 37, Nk: 77, H: 8, D: 40, why: 'cross attention to 77 tokens' },
  { B: 1, Nq: 77, Nk: 77, H: 12, D: 64, causal: true, why: 'CLIP causal, 12 heads of 64' },
  { B: 1, Nq: 20, Nk: 20, H: 1, D: 512, why: 'VAE mid-block, 1 head of 512 (7 channel chunks)' },
  { B: 1, Nq: 1024, Nk: 1024, H: 1, D: 40, why: 'long self attention, 64 key tiles' },
  { B: 3, Nq: 64, Nk: 77, H: 4, D: 8, why: 'tiny model cross, batch of 3' },
  { B: 1, Nq: 50, Nk: 50, H: 4, D: 4, why: 'D 4' },
  { B: 1, Nq: 50, Nk: 77, H: 2, D: 160, why: 'SD 1.5 deepest heads, 2 channel chunks' },
  { B: 2, Nq: 45, Nk: 45, H: 1, D: 100, causal: true, scale: 0.3, why: 'causal, partial chunk, custom scale' },
  { B: 1, Nq: 70, Nk: 90, H: 2, D: 80, qScale: 6, why: 'peaked scores (online rescaling)' },
];

describe('attention (fused, online softmax)', () => {
  for (const [ci, c] of attnCases.entries()) {
    const C = c.H * c.D;
    it(`B ${c.B}, Nq ${c.Nq}, Nk ${c.Nk}, ${c.H} heads of ${c.D}${c.causal ? ', causal' : ''} (${c.why})`, async () => {
      const be = await backend();
      const q = rand(c.B * c.Nq * C, 10 + ci, c.qScale ?? 1.5), k = rand(c.B * c.Nk * C, 40 + ci, 1.5), v = rand(c.B * c.Nk * C, 70 + ci);
      const o: AttentionOptions = { heads: c.H, causal: c.causal, scale: c.scale };
      const args = (b: WebGpuBackend | CpuBackend) =>
        [b.fromArray(q, [c.B, c.Nq, C]), b.fromArray(k, [c.B, c.Nk, C]), b.fromArray(v, [c.B, c.Nk, C])] as const;
      const y = be.attention(...args(be), o);
      const ours = await check('attention', be, y, cpu.attention(...args(cpu), o), 2e-5);
      record('attention(f64)', expectClose('attention vs naive f64', ours, naiveAttention(q, k, v, c.B, c.Nq, c.Nk, C, o), 2e-5));
    });
  }

  it('rejects bad shapes and head counts', async () => {
    const be = await backend();
    const t = (s: number[]) => be.fromArray(new Float32Array(numel(s)), s);
    expect(() => be.attention(t([1, 4, 12]), t([1, 5, 12]), t([1, 5, 12]), { heads: 5 })).toThrow(/heads/);
    expect(() => be.attention(t([1, 4, 12]), t([1, 5, 12]), t([1, 5, 12]), { heads: 3, causal: true })).toThrow(/causal/);
    expect(() => be.attention(t([1, 4, 12]), t([1, 5, 12]), t([1, 6, 12]), { heads: 3 })).toThrow(/match/);
    expect(() => be.attention(t([1, 2, 1024]), t([1, 2, 1024]), t([1, 2, 1024]), { heads: 1 })).toThrow(/head dim/);
  });
});

describe('softmax', () => {
  const cases: [number[], number, number][] = [
    [[3, 77], 3, 0],
    [[2, 5, 300], 20, 1000], // large offset: only a max-subtracted softmax survives
    [[1, 1000], 5, -50],
    [[4, 1], 1, 0],
    [[66000, 3], 2, 0], // more rows than one grid dimension holds
  ];
  for (const [i, [shape, scale, offset]] of cases.entries()) {
    it(`[${shape}] values ${offset} +- ${scale}`, async () => {
      const be = await backend();
      const x = rand(numel(shape), 200 + i, scale, offset);
      await check('softmax', be, be.softmax(be.fromArray(x, shape)), cpu.softmax(cpu.fromArray(x, shape)), 1e-5);
    });
  }
});

describe('geglu', () => {
  for (const [i, shape] of [[2, 37, 80], [1, 5, 666], [3, 14], [1, 64, 2560]].entries()) {
    it(`[${shape}] -> [..., ${shape[shape.length - 1] / 2}]`, async () => {
      const be = await backend();
      const x = rand(numel(shape), 300 + i, 4);
      await check('geglu', be, be.geglu(be.fromArray(x, shape)), cpu.geglu(cpu.fromArray(x, shape)), 1e-5);
    });
  }
});

describe('layout', () => {
  const upCases: [number[], number, number][] = [
    [[1, 3, 5, 7], 10, 14],
    [[2, 4, 3, 3], 7, 5], // ratio 7/3: floor(dst * in / out) is not dst >> 1
    [[1, 2, 8, 8], 3, 5], // downsizing
    [[1, 320, 8, 8], 16, 16],
  ];
  for (const [i, [shape, oh, ow]] of upCases.entries()) {
    it(`upsampleNearest [${shape}] -> ${oh}x${ow}`, async () => {
      const be = await backend();
      const x = rand(numel(shape), 400 + i);
      await check('upsampleNearest', be, be.upsampleNearest(be.fromArray(x, shape), oh, ow), cpu.upsampleNearest(cpu.fromArray(x, shape), oh, ow), 0);
    });
  }

  const base = [2, 3, 5, 7];
  for (let axis = 0; axis < 4; axis++) {
    it(`concat of three tensors on axis ${axis}, and slices of the result`, async () => {
      const be = await backend();
      const shapes = [1, 3, 2].map((n) => base.map((d, a) => (a === axis ? n : d)));
      const xs = shapes.map((s, i) => rand(numel(s), 500 + 10 * axis + i));
      const cat = be.concat(xs.map((x, i) => be.fromArray(x, shapes[i])), axis);
      const ref = cpu.concat(xs.map((x, i) => cpu.fromArray(x, shapes[i])), axis);
      await check('concat', be, cat, ref, 0);
      for (const [s, e] of [[0, 1], [1, 4], [2, 6], [5, 5]]) {
        await check('slice', be, be.slice(cat, axis, s, e), cpu.slice(ref, axis, s, e), 0);
      }
    });
  }

  for (const [i, shape] of [[2, 33, 5, 7], [1, 320, 8, 8], [3, 40, 37, 3], [1, 4, 1, 1]].entries()) {
    it(`nchwToNlc / nlcToNchw [${shape}]`, async () => {
      const be = await backend();
      const [N, C, H, W] = shape;
      const x = rand(numel(shape), 600 + i);
      const nlc = be.nchwToNlc(be.fromArray(x, shape));
      const refNlc = cpu.nchwToNlc(cpu.fromArray(x, shape));
      await check('nchwToNlc', be, nlc, refNlc, 0);
      const z = rand(N * H * W * C, 650 + i);
      await check('nlcToNchw', be, be.nlcToNchw(be.fromArray(z, [N, H * W, C]), H, W), cpu.nlcToNchw(cpu.fromArray(z, [N, H * W, C]), H, W), 0);
      expect(Array.from(await be.read(be.nlcToNchw(nlc, H, W)))).toEqual(Array.from(x)); // round trip
    });
  }
});

describe('timestepEmbedding', () => {
  it('matches diffusers time_proj for t = 999 (unet.t0.time_proj, flip_sin_to_cos, shift 0) within 1e-6', async () => {
    const be = await backend();
    const ref = await golden('unet.safetensors', 'unet.t0.time_proj');
    const y = be.timestepEmbedding(Float32Array.of(999), 32, true, 0);
    expect([...y.shape]).toEqual([1, 32]);
    const ours = await be.read(y);
    record('timestepEmb', expectClose('time_proj vs golden', ours, ref, 1e-6));
  });

  it('small timesteps against an f64 formula; odd dim, no flip, shift 1', async () => {
    const be = await backend();
    const ts = Float32Array.of(0, 0.5, 3.25);
    for (const [dim, flip, shift] of [[32, true, 0], [33, false, 1]] as const) {
      const half = Math.floor(dim / 2), ref = new Float64Array(ts.length * dim);
      ts.forEach((t, r) => {
        for (let i = 0; i < half; i++) {
          const arg = t * Math.exp((-Math.log(10000) * i) / (half - shift));
          ref[r * dim + i] = flip ? Math.cos(arg) : Math.sin(arg);
          ref[r * dim + half + i] = flip ? Math.sin(arg) : Math.cos(arg);
        }
      });
      const ours = await be.read(be.timestepEmbedding(ts, dim, flip, shift));
      record('timestepEmb', expectClose(`timestep dim ${dim}`, ours, ref, 2e-6));
    }
  });

  // The CPU reference rounds exp correctly where PyTorch's SLEEF exp may be an ulp off; at t ~ 1000 one ulp of
  // a frequency moves the argument by up to one ulp of 1000 (6e-5), hence the tolerance.
  it('agrees with CpuBackend over the SD timestep range (dim 320) to an argument ulp', async () => {
    const be = await backend();
    const ts = Float32Array.of(999, 749.25, 499.5, 249.75, 1, 0);
    // Computed on the host and uploaded (no kernel writes it), so there is no sentinel region to check.
    const y = be.timestepEmbedding(ts, 320, true, 0);
    expect([...y.shape]).toEqual([6, 320]);
    record('timestepEmb(cpu)', expectClose('timestepEmb(cpu) vs CpuBackend', await be.read(y), await cpu.read(cpu.timestepEmbedding(ts, 320, true, 0)), 1e-4));
  });
});

describe('embedding (token + position tables)', () => {
  for (const mode of ['f32', 'f16', 'f16packed'] as const) {
    it(`${mode} tables: batch 2 x 77 ids and batch 3 x 5, D 33`, async () => {
      const be = await backend(mode);
      const V = 50, P = 77, D = 33;
      const tokVals = rand(V * D, 700), posVals = rand(P * D, 701, 0.1);
      const w = (vals: Float32Array) => (mode === 'f32' ? { dtype: 'f32' as const, data: vals } : { dtype: 'f16' as const, data: f32ToHalfBits(vals) });
      const tok = be.weight(w(tokVals), [V, D]), pos = be.weight(w(posVals), [P, D]);
      expect(tok.dtype).toBe(mode === 'f32' ? 'f32' : 'f16');
      const cTok = cpu.weight(w(tokVals), [V, D]), cPos = cpu.weight(w(posVals), [P, D]);
      for (const [batch, L] of [[2, 77], [3, 5]]) {
        const ids = Int32Array.from({ length: batch * L }, (_, i) => (i * 37 + 11) % V);
        ids[0] = V - 1;
        await check(`embedding(${mode})`, be, be.embedding(ids, batch, tok, pos), cpu.embedding(ids, batch, cTok, cPos), 1e-6);
      }
      expect(() => be.embedding(Int32Array.of(0, V), 1, tok, pos)).toThrow(/vocabulary/);
    });
  }
});

describe('image <-> tensor', () => {
  it('imageToTensor matches the VAE golden input (u8 / 255 * 2 - 1)', async () => {
    const be = await backend();
    const img = (await goldenFile('vae.safetensors').read('vae.image_u8')).data as Uint8Array;
    const ref = await golden('vae.safetensors', 'vae.input');
    const y = be.imageToTensor(img, 64, 64);
    await be.rt.checkSentinel(y as GpuTensor, 'imageToTensor');
    expect([...y.shape]).toEqual([1, 3, 64, 64]);
    record('imageToTensor', expectClose('imageToTensor vs golden', await be.read(y), ref, 1e-6));
  });

  it('tensorToImage reproduces the pipeline golden output_u8 exactly', async () => {
    const be = await backend();
    const x = await golden('pipeline.safetensors', 'run1.vae_decode_output');
    const ref = (await goldenFile('pipeline.safetensors').read('run1.output_u8')).data as Uint8Array;
    const ours = await be.tensorToImage(be.fromArray(x, [1, 3, 64, 64]));
    expect(ours.length).toBe(ref.length);
    let mismatches = 0;
    for (let i = 0; i < ref.length; i++) if (ours[i] !== ref[i]) mismatches++;
    expect(mismatches, 'bytes differing from diffusers').toBe(0);
  });

  it('odd sizes round-trip, and agree with CpuBackend in both directions', async () => {
    const be = await backend();
    const [h, w] = [5, 3]; // 45 bytes: the last packed word is partial
    const img = Uint8Array.from(rand(h * w * 3, 800), (v) => Math.floor((v + 1) * 127.99));
    img[0] = 0;
    img[1] = 255;
    const t = be.imageToTensor(img, h, w);
    await check('imageToTensor', be, t, cpu.imageToTensor(img, h, w), 1e-6);
    expect(Array.from(await be.tensorToImage(t))).toEqual(Array.from(img));
    const x = rand(3 * 7 * 9, 801, 1.3); // includes values clamped at both ends
    const ours = await be.tensorToImage(be.fromArray(x, [1, 3, 7, 9]));
    expect(Array.from(ours)).toEqual(Array.from(await cpu.tensorToImage(cpu.fromArray(x, [1, 3, 7, 9]))));
  });

  it('rounds exact halves to even, as numpy does', async () => {
    const be = await backend();
    // x = 2v - 1 with v the f32 just where f32(v * 255) == k + 0.5 exactly, so x / 2 + 0.5 gives v back exactly
    const xs: number[] = [], expected: number[] = [], ks: number[] = [];
    for (let k = 0; k < 255; k++) {
      const v = Math.fround((k + 0.5) / 255);
      if (Math.fround(v * 255) !== k + 0.5 || Math.fround(2 * v - 1) !== 2 * v - 1) continue;
      xs.push(2 * v - 1);
      ks.push(k);
      expected.push(k % 2 === 0 ? k : k + 1); // k + 0.5 -> the even neighbour
    }
    expect(ks.length, 'halfway cases found').toBeGreaterThanOrEqual(20);
    expect(new Set(ks.map((k) => k % 2)).size, 'halves below odd and even k (rounding both ways)').toBe(2);
    while (xs.length % 3) xs.push(xs[0]), expected.push(expected[0]);
    const n = xs.length / 3; // [1,3,1,n]: channel c, pixel p = element c*n + p
    const ours = await be.tensorToImage(be.fromArray(Float32Array.from(xs), [1, 3, 1, n]));
    const hwc = Array.from({ length: xs.length }, (_, i) => expected[(i % 3) * n + Math.floor(i / 3)]);
    expect(Array.from(ours)).toEqual(hwc);
  });
});
