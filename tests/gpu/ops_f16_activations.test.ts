// f16 activations (GpuRuntime.activationDtype = 'f16', native shader-f16 storage) through the attention, softmax,
// GEGLU, norm, layout, embedding and image kernels, against the CPU reference (f32) given the same f16-rounded
// inputs. Bar for arithmetic ops, per element: |ours - ref| <= 2^-10 |ref| + 1e-4 std(ref), i.e. twice the half-ulp
// rounding of an f16 output plus a floor for values near zero; f16 accumulation of the reductions would miss it
// (cases below would overflow f16's 65504 or lose bits). Layout ops must be exact. Every output has a sentinel.
import { afterAll, describe, expect, it } from 'vitest';
import type { GpuTensor } from '../../src/engine/gpu/runtime.ts';
import type { WebGpuBackend } from '../../src/engine/ops/webgpu/backend.ts';
import { CpuBackend } from '../../src/engine/ops/cpu/backend.ts';
import type { AttentionOptions, DType, Tensor } from '../../src/engine/ops/ops.ts';
import { f32ToHalfBits, halfBitsToF32 } from '../../src/engine/weights/f16.ts';
import { expectWithinBar, f16Bar } from '../helpers/compare.ts';
import { testBackend } from '../helpers/gpu.ts';
import { rand } from '../helpers/random.ts';

const cpu = new CpuBackend();
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

let shared: Promise<WebGpuBackend> | null = null;
/** One backend with sentinels on, activations in `act` (f16 requires the shader-f16 feature: never skipped). */
async function backend(act: DType = 'f16'): Promise<WebGpuBackend> {
  shared ??= testBackend().then((be) => {
    be.rt.sentinel = true;
    return be;
  });
  const be = await shared;
  expect(be.rt.f16, 'f16 activations need an adapter with shader-f16: run through scripts/with-vulkan.mjs with Mesa 25 ' +
    'lavapipe (bash scripts/setup-lavapipe.sh)').toBe(true);
  be.rt.activationDtype = act;
  return be;
}

/** An input pair: an f16 GPU tensor and a CPU tensor holding the same (f16-rounded) values. */
function pair(be: WebGpuBackend, x: Float32Array, shape: readonly number[], dtype: DType = 'f16'): [Tensor, Tensor] {
  if (dtype === 'f32') return [be.fromArray(x, shape), cpu.fromArray(x, shape)];
  const bits = f32ToHalfBits(x);
  return [be.rt.upload(bits, shape, 'f16'), cpu.fromArray(halfBitsToF32(bits), shape)];
}

const worst = new Map<string, number>();
afterAll(() => {
  const lines = [...worst].map(([op, e]) => `  ${op.padEnd(18)} ${e.toFixed(3)}`);
  console.log(`[ops f16] worst error as a fraction of the bar, per op:\n${lines.join('\n')}`);
});

/** Checks the sentinel, shape and dtype of a GPU result and compares it with the CPU reference. */
async function check(op: string, be: WebGpuBackend, y: Tensor, ref: Tensor, dtype: DType, exact = false): Promise<void> {
  await be.rt.checkSentinel(y as GpuTensor, op);
  expect([...y.shape], `${op} shape`).toEqual([...ref.shape]);
  expect(y.dtype, `${op} output dtype`).toBe(dtype);
  const ours = await be.read(y);
  const r = await cpu.read(ref);
  worst.set(op, Math.max(worst.get(op) ?? 0, expectWithinBar(op, ours, r, exact ? () => 0 : f16Bar(r))));
}

// ---- attention and softmax ----------------------------------------------------------------------------------
interface AttnCase { B: number; Nq: number; Nk: number; H: number; D: number; causal?: boolean; qScale?: number; why: string }
const attnCases: AttnCase[] = [
  { B: 3, Nq: 64, Nk: 77, H: 8, D: 4, why: 'tiny model cross attention, batch of 3' },
  { B: 1, Nq: 300, Nk: 300, H: 8, D: 40, why: 'SD 1.5 first block heads' },
  { B: 1, Nq: 77, Nk: 77, H: 12, D: 64, causal: true, why: 'CLIP causal' },
  { B: 1, Nq: 40, Nk: 1024, H: 1, D: 40, why: '1024 keys: the softmax sum would lose bits in f16' },
  { B: 1, Nq: 70, Nk: 90, H: 2, D: 80, qScale: 6, why: 'peaked scores (online rescaling)' },
];

describe('attention with f16 activations', () => {
  for (const [ci, c] of attnCases.entries()) {
    it(`B ${c.B}, Nq ${c.Nq}, Nk ${c.Nk}, ${c.H} heads of ${c.D}${c.causal ? ', causal' : ''} (${c.why})`, async () => {
      const be = await backend();
      const C = c.H * c.D;
      const [q, cq] = pair(be, rand(c.B * c.Nq * C, 10 + ci, c.qScale ?? 1.5), [c.B, c.Nq, C]);
      const [k, ck] = pair(be, rand(c.B * c.Nk * C, 40 + ci, 1.5), [c.B, c.Nk, C]);
      const [v, cv] = pair(be, rand(c.B * c.Nk * C, 70 + ci, 2), [c.B, c.Nk, C]);
      const o: AttentionOptions = { heads: c.H, causal: c.causal };
      await check('attention', be, be.attention(q, k, v, o), cpu.attention(cq, ck, cv, o), 'f16');
    });
  }

  it('mixed inputs (q f16, k f32, v f16) give an f16 output; f32 activations give f32 from f16 inputs', async () => {
    const be = await backend();
    const [q, cq] = pair(be, rand(2 * 20 * 16, 90), [2, 20, 16]);
    const [k, ck] = pair(be, rand(2 * 30 * 16, 91), [2, 30, 16], 'f32');
    const [v, cv] = pair(be, rand(2 * 30 * 16, 92), [2, 30, 16]);
    await check('attention(mixed)', be, be.attention(q, k, v, { heads: 2 }), cpu.attention(cq, ck, cv, { heads: 2 }), 'f16');
    be.rt.activationDtype = 'f32';
    await check('attention(->f32)', be, be.attention(q, k, v, { heads: 2 }), cpu.attention(cq, ck, cv, { heads: 2 }), 'f32');
  });
});

describe('softmax with f16 activations', () => {
  const cases: [number[], number, number][] = [
    [[3, 77], 3, 0],
    [[2, 5, 300], 20, 1000], // only a max-subtracted softmax survives (and exp(1000) is far past f16)
    [[1, 4000], 1, 0], // a sum near 4000: an f16 running sum would lose bits at every add
    [[66000, 3], 2, 0], // more rows than one grid dimension holds
  ];
  for (const [i, [shape, scale, offset]] of cases.entries()) {
    it(`[${shape}] values ${offset} +- ${scale}`, async () => {
      const be = await backend();
      const [x, cx] = pair(be, rand(numel(shape), 200 + i, scale, offset), shape);
      await check('softmax', be, be.softmax(x), cpu.softmax(cx), 'f16');
    });
  }
});

describe('GEGLU with f16 activations', () => {
  for (const [i, shape] of [[2, 37, 80], [1, 64, 2560], [3, 14]].entries()) {
    it(`[${shape}]`, async () => {
      const be = await backend();
      const [x, cx] = pair(be, rand(numel(shape), 300 + i, 4), shape);
      await check('geglu', be, be.geglu(x), cpu.geglu(cx), 'f16');
    });
  }
});

// ---- normalization ------------------------------------------------------------------------------------------
describe('groupNorm / layerNorm with f16 activations (f32 statistics)', () => {
  const gnCases: { shape: number[]; groups: number; silu?: boolean; offset: number; why: string }[] = [
    { shape: [2, 64, 8, 8], groups: 32, offset: 0, why: 'tiny UNet' },
    { shape: [1, 32, 64, 64], groups: 1, offset: 50, why: 'one group of 131072 values with mean 50: an f16 sum overflows' },
    { shape: [3, 320, 4, 4], groups: 32, silu: true, offset: -2, why: 'SD channels, fused SiLU' },
  ];
  for (const [i, c] of gnCases.entries()) {
    it(`groupNorm [${c.shape}], ${c.groups} groups${c.silu ? ' + SiLU' : ''} (${c.why})`, async () => {
      const be = await backend();
      const C = c.shape[1];
      const [x, cx] = pair(be, rand(numel(c.shape), 400 + i, 3, c.offset), c.shape);
      const gw = { dtype: 'f16' as const, data: f32ToHalfBits(rand(C, 410 + i, 0.5, 1)) };
      const bw = { dtype: 'f16' as const, data: f32ToHalfBits(rand(C, 420 + i, 0.5)) };
      const o = { groups: c.groups, eps: 1e-5, silu: c.silu };
      const y = be.groupNorm(x, be.weight(gw, [C]), be.weight(bw, [C]), o);
      await check('groupNorm', be, y, cpu.groupNorm(cx, cpu.weight(gw, [C]), cpu.weight(bw, [C]), o), 'f16');
    });
  }

  for (const [i, [shape, offset]] of ([[[2, 77, 768], 0], [[1, 64, 1280], 100], [[5, 3], 0]] as const).entries()) {
    it(`layerNorm [${shape}], values ${offset} +- 2${offset ? ' (an f16 sum of the row overflows)' : ''}`, async () => {
      const be = await backend();
      const C = shape[shape.length - 1];
      const [x, cx] = pair(be, rand(numel(shape), 500 + i, 2, offset), shape);
      const gw = { dtype: 'f32' as const, data: rand(C, 510 + i, 0.5, 1) };
      const bw = { dtype: 'f32' as const, data: rand(C, 520 + i, 0.5) };
      const y = be.layerNorm(x, be.weight(gw, [C]), be.weight(bw, [C]), 1e-5);
      await check('layerNorm', be, y, cpu.layerNorm(cx, cpu.weight(gw, [C]), cpu.weight(bw, [C]), 1e-5), 'f16');
    });
  }
});

// ---- layout: the output keeps the input's dtype, values move exactly ---------------------------------------
describe('layout ops on f16 tensors', () => {
  it('upsampleNearest, transposes, slice keep f16 and copy exactly', async () => {
    const be = await backend();
    const [x, cx] = pair(be, rand(2 * 33 * 5 * 7, 600, 3), [2, 33, 5, 7]);
    await check('upsampleNearest', be, be.upsampleNearest(x, 10, 14), cpu.upsampleNearest(cx, 10, 14), 'f16', true);
    const nlc = be.nchwToNlc(x);
    await check('nchwToNlc', be, nlc, cpu.nchwToNlc(cx), 'f16', true);
    await check('nlcToNchw', be, be.nlcToNchw(nlc, 5, 7), cx, 'f16', true);
    await check('slice', be, be.slice(x, 1, 3, 20), cpu.slice(cx, 1, 3, 20), 'f16', true);
    await check('slice', be, be.slice(x, 3, 6, 7), cpu.slice(cx, 3, 6, 7), 'f16', true); // 70 halves: odd word count
  });

  it('layout ops keep an f32 input f32 even with f16 activations', async () => {
    const be = await backend();
    const [x, cx] = pair(be, rand(1 * 4 * 3 * 3, 610), [1, 4, 3, 3], 'f32');
    await check('upsampleNearest', be, be.upsampleNearest(x, 6, 6), cpu.upsampleNearest(cx, 6, 6), 'f32', true);
    await check('nchwToNlc', be, be.nchwToNlc(x), cpu.nchwToNlc(cx), 'f32', true);
    await check('slice', be, be.slice(x, 1, 1, 3), cpu.slice(cx, 1, 1, 3), 'f32', true);
  });

  for (let axis = 0; axis < 4; axis++) {
    it(`concat on axis ${axis}: f16 + f16 -> f16; f32 + f16 -> f32 (lossless)`, async () => {
      const be = await backend();
      const base = [2, 3, 5, 7];
      const shapes = [1, 3, 2].map((n) => base.map((d, a) => (a === axis ? n : d)));
      const ins = shapes.map((s, i) => pair(be, rand(numel(s), 700 + 10 * axis + i, 2), s));
      await check('concat', be, be.concat(ins.map((p) => p[0]), axis), cpu.concat(ins.map((p) => p[1]), axis), 'f16', true);
      ins[1] = pair(be, rand(numel(shapes[1]), 790 + axis, 2), shapes[1], 'f32');
      await check('concat(mixed)', be, be.concat(ins.map((p) => p[0]), axis), cpu.concat(ins.map((p) => p[1]), axis), 'f32', true);
    });
  }
});

// ---- embeddings and images ----------------------------------------------------------------------------------
describe('embeddings and images with f16 activations', () => {
  it('token + position embedding (f16 and f32 tables) writes f16', async () => {
    const be = await backend();
    const V = 50, P = 77, D = 33;
    for (const dt of ['f16', 'f32'] as const) {
      const w = (vals: Float32Array) => (dt === 'f32' ? { dtype: 'f32' as const, data: vals } : { dtype: 'f16' as const, data: f32ToHalfBits(vals) });
      const tok = w(rand(V * D, 800)), pos = w(rand(P * D, 801, 0.1));
      const ids = Int32Array.from({ length: 2 * 77 }, (_, i) => (i * 37 + 11) % V);
      const y = be.embedding(ids, 2, be.weight(tok, [V, D]), be.weight(pos, [P, D]));
      await check(`embedding(${dt})`, be, y, cpu.embedding(ids, 2, cpu.weight(tok, [V, D]), cpu.weight(pos, [P, D])), 'f16');
    }
  });

  it('timestep embedding is uploaded as f16', async () => {
    const be = await backend();
    const ts = Float32Array.of(999, 749.25, 1);
    const y = be.timestepEmbedding(ts, 320, true, 0);
    expect(y.dtype).toBe('f16');
    // the host table is exact to an f32 argument ulp (see ops_attention_layout); rounding to f16 is the only change
    const ours = await be.read(y), ref = await cpu.read(cpu.timestepEmbedding(ts, 320, true, 0));
    for (let i = 0; i < ref.length; i++) expect(Math.abs(ours[i] - ref[i])).toBeLessThanOrEqual(2 ** -11 * Math.abs(ref[i]) + 1e-4);
  });

  it('imageToTensor writes f16; tensorToImage reads f16 and f32 alike', async () => {
    const be = await backend();
    const [h, w] = [5, 7]; // 105 bytes: the last packed word is partial
    const img = Uint8Array.from(rand(h * w * 3, 810), (v) => Math.floor((v + 1) * 127.99));
    img[0] = 0;
    img[1] = 255;
    const t = be.imageToTensor(img, h, w);
    await check('imageToTensor', be, t, cpu.imageToTensor(img, h, w), 'f16');
    expect(Array.from(await be.tensorToImage(t)), 'u8 -> f16 -> u8 round trip').toEqual(Array.from(img));
    for (const dt of ['f16', 'f32'] as const) {
      const [x, cx] = pair(be, rand(3 * 7 * 9, 820, 1.3), [1, 3, 7, 9], dt); // includes values clamped at both ends
      expect(Array.from(await be.tensorToImage(x)), `tensorToImage(${dt})`).toEqual(Array.from(await cpu.tensorToImage(cx)));
    }
  });
});
