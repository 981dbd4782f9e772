// Attention reading a fused projection's output in place (AttentionOptions.packed: q|k|v [B, L, 3C] or k|v
// [B, Nk, 2C]) on WebGPU, against the CPU reference (which slices the packed tensor apart), a naive f64 loop
// written here that walks the packed layout itself, and the unpacked kernel on the same values (bit-identical:
// only the addressing differs). f32 and f16 activation storage (f16 inputs uploaded as half bits, the references
// given the same rounded values); every output has a sentinel. Then the argument checks on the three backends,
// and the counting backend recording what the runtime records (a packed tensor is read once).
import { afterAll, describe, expect, it } from 'vitest';
import type { GpuTensor } from '../../src/engine/gpu/runtime.ts';
import { CountingBackend } from '../../src/engine/ops/counting/backend.ts';
import { CpuBackend } from '../../src/engine/ops/cpu/backend.ts';
import type { AttentionOptions, Backend, DType, Tensor } from '../../src/engine/ops/ops.ts';
import type { WebGpuBackend } from '../../src/engine/ops/webgpu/backend.ts';
import { f32ToHalfBits, halfBitsToF32 } from '../../src/engine/weights/f16.ts';
import { expectWithinBar, f16Bar, stats } from '../helpers/compare.ts';
import { testBackend } from '../helpers/gpu.ts';
import { rand } from '../helpers/random.ts';

const cpu = new CpuBackend();
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

let shared: Promise<WebGpuBackend> | null = null;
/** One WebGPU backend with sentinels on, activations stored as `act` (f16 needs shader-f16: never skipped). */
async function backend(act: DType): Promise<WebGpuBackend> {
  shared ??= testBackend().then((be) => {
    be.rt.sentinel = true;
    return be;
  });
  const be = await shared;
  if (act === 'f16') expect(be.rt.f16, 'f16 activations need shader-f16 (run through scripts/with-vulkan.mjs, lavapipe)').toBe(true);
  be.rt.activationDtype = act;
  return be;
}

/** Values as stored under `act` (f16: rounded to half), and the GPU tensor holding them. */
function upload(be: WebGpuBackend, x: Float32Array, shape: number[], act: DType): { t: Tensor; vals: Float32Array } {
  if (act === 'f32') return { t: be.fromArray(x, shape), vals: x };
  const bits = f32ToHalfBits(x);
  return { t: be.rt.upload(bits, shape, 'f16'), vals: halfBitsToF32(bits) };
}

/** Channels [from, from + c) of every row of a [rows, width] buffer: one part of a packed tensor. */
function part(x: Float32Array, width: number, from: number, c: number): Float32Array {
  const rows = x.length / width, out = new Float32Array(rows * c);
  for (let r = 0; r < rows; r++) out.set(x.subarray(r * width + from, r * width + from + c), r * c);
  return out;
}

/** Naive f64 attention reading q and k|v rows `qs` / `kvs` elements apart, k at `kOff`, v at `vOff` in a row. */
function naive(qb: Float32Array, kvb: Float32Array, L: { B: number; Nq: number; Nk: number; H: number; D: number; qs: number; kvs: number; kOff: number; vOff: number }, o: AttentionOptions): Float64Array {
  const { B, Nq, Nk, H, D } = L, C = H * D, scale = o.scale ?? D ** -0.5;
  const out = new Float64Array(B * Nq * C), s = new Float64Array(Nk);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < Nq; i++) {
        const n = o.causal ? i + 1 : Nk, qRow = (b * Nq + i) * L.qs + h * D;
        let m = -Infinity;
        for (let j = 0; j < n; j++) {
          const kRow = (b * Nk + j) * L.kvs + L.kOff + h * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qb[qRow + d] * kvb[kRow + d];
          s[j] = dot * scale;
          m = Math.max(m, s[j]);
        }
        let sum = 0;
        for (let j = 0; j < n; j++) sum += (s[j] = Math.exp(s[j] - m));
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += s[j] * kvb[(b * Nk + j) * L.kvs + L.vOff + h * D + d];
          out[(b * Nq + i) * C + h * D + d] = acc / sum;
        }
      }
  return out;
}

const worst = new Map<string, number>();
afterAll(() => {
  console.log('[packed attention] worst error as a fraction of the bar:\n' +
    [...worst].map(([k, v]) => `  ${k.padEnd(26)} ${v.toFixed(3)}`).join('\n'));
});

/** f32: |d| <= 2e-5 max(1, std(ref)) (the attention tests' bar); f16 output: the f16 storage bar per element. */
function expectWithin(name: string, act: DType, ours: Float32Array, ref: ArrayLike<number>): void {
  const tol = 2e-5 * Math.max(1, stats(ref).std);
  const frac = expectWithinBar(name, ours, ref, act === 'f32' ? () => tol : f16Bar(ref));
  worst.set(name, Math.max(worst.get(name) ?? 0, frac));
}

interface Case { B: number; Nq: number; Nk: number; H: number; D: number; causal?: boolean; scale?: number; why: string }
const qkvCases: Case[] = [
  { B: 3, Nq: 64, Nk: 64, H: 4, D: 8, why: 'tiny UNet self-attention, batch of 3' },
  { B: 1, Nq: 300, Nk: 300, H: 8, D: 40, why: 'SD 1.5 first block heads' },
  { B: 2, Nq: 77, Nk: 77, H: 12, D: 64, causal: true, why: 'CLIP causal' },
  { B: 1, Nq: 20, Nk: 20, H: 1, D: 512, why: 'VAE mid-block, one head of 512' },
  { B: 2, Nq: 45, Nk: 45, H: 1, D: 100, causal: true, scale: 0.3, why: 'partial channel chunk, custom scale' },
];
const kvCases: Case[] = [
  { B: 3, Nq: 64, Nk: 77, H: 4, D: 8, why: 'tiny UNet cross-attention' },
  { B: 2, Nq: 37, Nk: 77, H: 8, D: 40, why: 'SD 1.5 cross-attention heads' },
  { B: 1, Nq: 50, Nk: 77, H: 2, D: 160, why: 'SD 1.5 deepest heads, 2 channel chunks' },
];

for (const act of ['f32', 'f16'] as const) {
  describe(`packed attention, ${act} activations`, () => {
    for (const [ci, c] of qkvCases.entries()) {
      it(`q|k|v [${c.B},${c.Nq},3*${c.H}*${c.D}]${c.causal ? ', causal' : ''} (${c.why})`, async () => {
        const be = await backend(act);
        const C = c.H * c.D, shape = [c.B, c.Nq, 3 * C];
        const { t: qkv, vals } = upload(be, rand(numel(shape), 100 + ci, 1.5), shape, act);
        const o: AttentionOptions = { heads: c.H, causal: c.causal, scale: c.scale };
        const y = be.attention(qkv, qkv, qkv, { ...o, packed: 'qkv' });
        expect([...y.shape]).toEqual([c.B, c.Nq, C]);
        expect(y.dtype).toBe(act);
        await be.rt.checkSentinel(y as GpuTensor, 'attention qkv');
        const ours = await be.read(y);
        const cq = cpu.fromArray(vals, shape);
        expectWithin(`qkv ${act} vs CpuBackend`, act, ours, await cpu.read(cpu.attention(cq, cq, cq, { ...o, packed: 'qkv' })));
        const L = { ...c, qs: 3 * C, kvs: 3 * C, kOff: C, vOff: 2 * C };
        expectWithin(`qkv ${act} vs naive f64`, act, ours, naive(vals, vals, L, o));
        // the same values as three tensors through the unpacked kernel: identical bits
        const [q, k, v] = [0, 1, 2].map((i) => upload(be, part(vals, 3 * C, i * C, C), [c.B, c.Nq, C], act).t);
        expect(await be.read(be.attention(q, k, v, o))).toEqual(ours);
      });
    }
    for (const [ci, c] of kvCases.entries()) {
      it(`q [${c.B},${c.Nq},${c.H}*${c.D}], k|v [${c.B},${c.Nk},2*${c.H}*${c.D}] (${c.why})`, async () => {
        const be = await backend(act);
        const C = c.H * c.D, kvShape = [c.B, c.Nk, 2 * C];
        const q = upload(be, rand(c.B * c.Nq * C, 200 + ci, 1.5), [c.B, c.Nq, C], act);
        const kv = upload(be, rand(numel(kvShape), 300 + ci, 1.5), kvShape, act);
        const o: AttentionOptions = { heads: c.H };
        const y = be.attention(q.t, kv.t, kv.t, { ...o, packed: 'kv' });
        expect([...y.shape]).toEqual([c.B, c.Nq, C]);
        expect(y.dtype).toBe(act);
        await be.rt.checkSentinel(y as GpuTensor, 'attention kv');
        const ours = await be.read(y);
        const ckv = cpu.fromArray(kv.vals, kvShape);
        const ref = cpu.attention(cpu.fromArray(q.vals, [c.B, c.Nq, C]), ckv, ckv, { ...o, packed: 'kv' });
        expectWithin(`kv ${act} vs CpuBackend`, act, ours, await cpu.read(ref));
        expectWithin(`kv ${act} vs naive f64`, act, ours, naive(q.vals, kv.vals, { ...c, qs: C, kvs: 2 * C, kOff: 0, vOff: C }, o));
        const [k, v] = [0, 1].map((i) => upload(be, part(kv.vals, 2 * C, i * C, C), [c.B, c.Nk, C], act).t);
        expect(await be.read(be.attention(q.t, k, v, o))).toEqual(ours);
      });
    }
  });
}

describe('packed attention argument checks and the meter', () => {
  it('every backend rejects a packed tensor that is not passed as each part, or does not split', async () => {
    const gpu = await backend('f32');
    for (const b of [cpu, gpu, new CountingBackend()] as Backend[]) {
      const t = (shape: number[]) => b.fromArray(new Float32Array(numel(shape)), shape);
      const qkv = t([1, 4, 24]), other = t([1, 4, 24]), kv = t([1, 5, 16]);
      expect(() => b.attention(qkv, other, qkv, { heads: 2, packed: 'qkv' }), b.name).toThrow(/takes one q\|k\|v tensor/);
      expect(() => b.attention(t([1, 4, 8]), kv, t([1, 5, 16]), { heads: 2, packed: 'kv' }), b.name).toThrow(/takes one k\|v tensor/);
      const odd = t([1, 4, 25]);
      expect(() => b.attention(odd, odd, odd, { heads: 1, packed: 'qkv' }), b.name).toThrow(/packed 'qkv'/);
      expect(() => b.attention(t([1, 4, 6]), kv, kv, { heads: 2, packed: 'kv' }), b.name).toThrow(/attention: q \[1,4,6\]/);
      expect(() => b.attention(qkv, qkv, qkv, { heads: 3, packed: 'qkv' }), b.name).toThrow(/8 channels/);
    }
  });

  it('the counting backend records what the runtime records, and counts a packed tensor read once', async () => {
    const run = async (b: Backend) => {
      const qkv = b.fromArray(rand(2 * 21 * 48, 1), [2, 21, 48]);
      const self = b.attention(qkv, qkv, qkv, { heads: 2, causal: true, packed: 'qkv' }); // [2,21,16]
      b.release(qkv);
      const kv = b.fromArray(rand(2 * 9 * 32, 2), [2, 9, 32]);
      const cross = b.attention(self, kv, kv, { heads: 4, packed: 'kv' }); // [2,21,16]
      await b.read(cross);
    };
    const gpu = await testBackend();
    await run(gpu);
    const counting = new CountingBackend();
    await run(counting);
    const s = gpu.rt.stats, t = counting.ledger.snapshot();
    expect({
      dispatches: t.dispatches, submits: t.submits, readbacks: t.readbacks, peakBytes: counting.plan.peakBytes,
      maxBufferBytes: counting.plan.maxBufferBytes, maxBindingBytes: counting.ledger.maxBinding.bytes,
    }).toEqual({
      dispatches: s.dispatches, submits: s.submits, readbacks: s.readbacks, peakBytes: s.peakBytes,
      maxBufferBytes: s.maxBufferBytes, maxBindingBytes: s.maxBindingBytes,
    });
    expect(s.dispatches).toBe(2);
    // compulsory bytes, f32: q|k|v once + q and k|v once in; two [2,21,16] outputs
    expect(t.bytesRead).toBe(4 * (2 * 21 * 48 + 2 * 21 * 16 + 2 * 9 * 32));
    expect(t.bytesWritten).toBe(4 * 2 * (2 * 21 * 16));
  });
});
