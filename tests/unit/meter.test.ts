// The cost meter against what it models: the counting backend must record exactly what the WebGPU runtime records
// (dispatches, submits, readbacks, every byte the pool allocates, the largest buffer and binding) for single ops and
// for a whole tiny edit; at real scale its FLOPs must land on DESIGN.md section 5 and its weight bytes on the
// published parameter counts; and `bench --meter --json` prints one JSON object.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planEdit, type PlanRequest } from '../../src/engine/meter.ts';
import type { RuntimeStats } from '../../src/engine/gpu/runtime.ts';
import type { PoolPolicy } from '../../src/engine/ops/counting/buffer_plan.ts';
import { CountingBackend } from '../../src/engine/ops/counting/backend.ts';
import type { Backend } from '../../src/engine/ops/ops.ts';
import type { WebGpuBackend } from '../../src/engine/ops/webgpu/backend.ts';
import { buildPipeline } from '../../src/engine/pipelines/load.ts';
import { loadPipelineFolder, nodeFolderSource, type Variant } from '../../src/engine/weights/diffusers.ts';
import { testBackend } from '../helpers/gpu.ts';

const root = join(import.meta.dirname, '../..');
const TINY = 'models/tiny-ip2p';
const REAL = 'models/instruct-pix2pix';

function configs(dir: string): PlanRequest['configs'] {
  const j = (p: string) => JSON.parse(readFileSync(join(root, dir, p), 'utf8')) as Record<string, unknown>;
  return { unet: j('unet/config.json'), vae: j('vae/config.json'), text_encoder: j('text_encoder/config.json'), scheduler: j('scheduler/scheduler_config.json') };
}

/** The counters both backends keep, from the real runtime. */
function gpuCounters(s: RuntimeStats) {
  const { dispatches, submits, readbacks, peakBytes, maxBufferBytes, maxBindingBytes } = s;
  return { dispatches, submits, readbacks, peakBytes, maxBufferBytes, maxBindingBytes };
}

function countingCounters(be: CountingBackend) {
  const t = be.ledger.snapshot();
  return {
    dispatches: t.dispatches, submits: t.submits, readbacks: t.readbacks, peakBytes: be.plan.peakBytes,
    maxBufferBytes: be.plan.maxBufferBytes, maxBindingBytes: be.ledger.maxBinding.bytes,
  };
}

const f32 = (n: number, seed = 1) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const arr = (be: Backend, shape: number[]) => be.fromArray(f32(numel(shape)), shape);
const w16 = (be: Backend, shape: number[]) => be.weight({ dtype: 'f16', data: new Uint16Array(numel(shape)).fill(0x3c00) }, shape);
const w32 = (be: Backend, shape: number[]) => be.weight({ dtype: 'f32', data: f32(numel(shape), 2) }, shape);

// Op sequences with pooled reuse, views, null biases, f16 weights and zero-sized grids, each ending in a read.
const OP_CASES: Record<string, (be: Backend) => Promise<void>> = {
  'conv2d (stride 2, no bias), groupNorm+SiLU, linear, matmul with releases in between': async (be) => {
    const x = arr(be, [2, 8, 9, 7]);
    const y = be.conv2d(x, w16(be, [16, 8, 3, 3]), null, { stride: 2, pad: [0, 1, 0, 1] }); // [2,16,4,3]
    const n = be.groupNorm(y, w32(be, [16]), w32(be, [16]), { groups: 4, eps: 1e-5, silu: true });
    be.release(y);
    const t = be.nchwToNlc(n); // [2,12,16]
    const l = be.linear(t, w16(be, [24, 16]), w32(be, [24])); // [2,12,24]
    be.release(t);
    const m = be.matmul(l, be.fromArray(f32(2 * 24 * 5), [2, 24, 5])); // [2,12,5]
    await be.read(m);
  },
  'attention (Nq not a multiple of 16, causal), softmax, layerNorm, GEGLU, GELU, mul, reshape views': async (be) => {
    const q = arr(be, [2, 21, 32]);
    const a = be.attention(q, q, q, { heads: 4, causal: true });
    const s = be.softmax(a);
    const ln = be.layerNorm(s, w32(be, [32]), w32(be, [32]), 1e-5);
    const v = be.reshape(ln, [2, 21, 32]);
    be.release(ln);
    const g = be.geglu(v); // [2,21,16]
    const e = be.gelu(g);
    const p = be.mul(e, g);
    be.release(v);
    be.release(g);
    const cross = be.attention(arr(be, [1, 3, 16]), arr(be, [1, 40, 16]), arr(be, [1, 40, 16]), { heads: 2 });
    await be.read(p);
    await be.read(cross);
  },
  'concat of three (one empty), slice, upsample, transposes, per-channel add, clamp, exp, scale': async (be) => {
    const a = arr(be, [1, 3, 4, 4]);
    const c = be.concat([a, arr(be, [1, 0, 4, 4]), arr(be, [1, 2, 4, 4])], 1); // [1,5,4,4]
    const sl = be.slice(c, 1, 1, 4);
    const up = be.upsampleNearest(sl, 7, 9);
    const pc = be.addPerChannel(up, arr(be, [1, 3]));
    const t = be.nlcToNchw(be.nchwToNlc(pc), 7, 9);
    const z = be.exp(be.clamp(be.scale(t, 0.5, 1), -1, 1));
    const empty = be.softmax(arr(be, [0, 4])); // no rows: no dispatch
    be.release(empty);
    await be.read(z);
  },
  'embedding, timestep table, image in and out, silu, quickGelu, add': async (be) => {
    const ids = Int32Array.from({ length: 2 * 5 }, (_, i) => i % 7);
    const e = be.embedding(ids, 2, w16(be, [7, 8]), w32(be, [6, 8]));
    const q = be.add(be.quickGelu(e), e);
    const ts = be.silu(be.timestepEmbedding(new Float32Array([999, 1]), 6, true, 0));
    const img = be.imageToTensor(new Uint8Array(5 * 6 * 3).map((_, i) => i), 5, 6);
    await be.tensorToImage(img);
    await be.read(q);
    await be.read(ts);
  },
};

describe('CountingBackend records what the WebGPU runtime records, op by op', () => {
  for (const [name, run] of Object.entries(OP_CASES)) {
    it(name, async () => {
      const gpu = await testBackend();
      await run(gpu);
      const counting = new CountingBackend();
      await run(counting);
      expect(countingCounters(counting)).toEqual(gpuCounters(gpu.rt.stats));
      expect(gpu.rt.stats.dispatches).toBeGreaterThan(3);
    });
  }
});

describe('CountingBackend cost formulas (hand-computed)', () => {
  it('conv2d 2*N*Cout*Ho*Wo*Cin*kh*kw, linear 2*M*N*K, attention 4*B*H*Nq*Nk*D + 5 per score, bytes by dtype', async () => {
    const be = new CountingBackend({ weightDtype: 'f16' });
    const x = arr(be, [2, 8, 9, 7]);
    const before = be.ledger.snapshot();
    be.conv2d(x, w16(be, [16, 8, 3, 3]), null, { stride: 2, pad: [0, 1, 0, 1] }); // Ho = (9 + 1 - 3) // 2 + 1 = 4, Wo = (7 + 1 - 3) // 2 + 1 = 3
    await be.flush();
    const conv = be.ledger.snapshot();
    expect(conv.flops - before.flops).toBe(2 * 2 * 16 * 4 * 3 * 8 * 3 * 3);
    expect(conv.bytesRead - before.bytesRead).toBe(2 * 8 * 9 * 7 * 4 + 16 * 8 * 9 * 2); // x f32 + w f16
    expect(conv.bytesWritten - before.bytesWritten).toBe(2 * 16 * 4 * 3 * 4);
    be.linear(arr(be, [3, 10, 16]), w16(be, [24, 16]), null);
    await be.flush();
    expect(be.ledger.snapshot().flops - conv.flops).toBe(2 * 30 * 24 * 16);
    const q = arr(be, [2, 21, 32]);
    const k = arr(be, [2, 40, 32]);
    const mark = be.ledger.snapshot().flops;
    be.attention(q, k, k, { heads: 4 });
    expect(be.ledger.snapshot().flops - mark).toBe(4 * 2 * 4 * 21 * 40 * 8 + 5 * 2 * 4 * 21 * 40);
  });

  it('checks shapes like the WebGPU wrappers', () => {
    const be = new CountingBackend();
    expect(() => be.conv2d(arr(be, [1, 3, 4, 4]), w32(be, [8, 4, 3, 3]), null)).toThrow(/conv2d: needs x/);
    expect(() => be.linear(arr(be, [2, 5]), w32(be, [3, 4]), null)).toThrow(/linear: x \[2,5\] needs w \[N,5\]/);
    expect(() => be.attention(arr(be, [1, 4, 6]), arr(be, [1, 4, 6]), arr(be, [1, 4, 6]), { heads: 4 })).toThrow(/do not split/);
    expect(() => be.add(arr(be, [2, 3]), arr(be, [3, 2]))).toThrow(/shapes \[2,3\] and \[3,2\] differ/);
    expect(() => be.concat([arr(be, [1, 2]), arr(be, [2, 3])], 0)).toThrow(/concat on axis 0/);
  });
});

/**
 * The real pipeline on the real runtime: counters at the end of every step, and at the end. With `warmup` an
 * edit of that size runs first (default pool policy), then `pool` is set for the measured one.
 */
async function realEdit(
  variant: Variant,
  req: { steps: number; guidanceScale?: number; preview: boolean; warmup?: number; pool?: Partial<PoolPolicy> },
) {
  const gpu: WebGpuBackend = await testBackend();
  const pipe = buildPipeline(gpu, await loadPipelineFolder(nodeFolderSource(join(root, TINY)), { variant }));
  const ends: RuntimeStats[] = [];
  const image = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7) % 256) };
  const edit = { prompt: 'make it snow', steps: req.steps, guidanceScale: req.guidanceScale, maxSize: 64, seed: 3 };
  if (req.warmup) await pipe.edit(image, { ...edit, maxSize: req.warmup }, { onPreview: req.preview ? () => {} : undefined });
  if (req.pool) gpu.rt.setPoolPolicy(req.pool);
  await pipe.edit(
    image,
    { prompt: 'make it snow', steps: req.steps, guidanceScale: req.guidanceScale, maxSize: 64, seed: 3 },
    {
      onProgress: (p) => {
        if (p.stage === 'denoise') ends.push({ ...gpu.rt.stats });
      },
      onPreview: req.preview ? () => {} : undefined,
    },
  );
  return { ends, final: gpu.rt.stats };
}

describe('planEdit on the tiny model matches the WebGPU runtime running the same edit', () => {
  const cases = [
    { name: 'fp32 weights, 2 steps, dual guidance', variant: 'fp32' as const, steps: 2, preview: false },
    { name: 'fp16 weights, 3 steps, previews', variant: 'fp16' as const, steps: 3, preview: true },
    { name: 'fp32 weights, 2 steps, no guidance (batch 1)', variant: 'fp32' as const, steps: 2, preview: false, guidanceScale: 1 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const real = await realEdit(c.variant, c);
      const plan = await planEdit({
        configs: configs(TINY), size: 64, steps: c.steps, f16: c.variant === 'fp16', preview: c.preview, guidanceScale: c.guidanceScale,
      });
      const step = (k: keyof RuntimeStats) => real.ends[1][k] - real.ends[0][k];
      const measured = {
        dispatches_per_step: step('dispatches'), submits_per_step: step('submits'), readbacks_per_step: step('readbacks'),
        dispatches: real.final.dispatches, submits: real.final.submits, readbacks: real.final.readbacks,
        peak_bytes: real.final.peakBytes, max_buffer_bytes: real.final.maxBufferBytes, max_binding_bytes: real.final.maxBindingBytes,
      };
      const meter = Object.fromEntries(Object.keys(measured).map((k) => [k, plan[k as keyof typeof plan]]));
      expect(meter).toEqual(measured);
      expect(measured.submits_per_step).toBe(1);
      expect(measured.readbacks_per_step).toBe(c.preview ? 1 : 0);
      expect(plan.batch).toBe(c.guidanceScale === 1 ? 1 : 3);
      console.log(`[meter] tiny ${c.name}: ${JSON.stringify(measured)}`);
    });
  }
});

describe('grow-trims and trims: the counting plan replays the runtime (thresholds lowered to reach tiny tensors)', () => {
  const low = { growTrimMinBytes: 0, growTrimFreeRatio: 0.5 };

  it('op by op: a trim between stages, a grow-trim while armed, none once a flush has submitted', async () => {
    // warm-up compiles the kernels on the GPU (a runtime grow-trims only with compiled pipelines); the counting
    // backend runs the same ops, so every counter must agree from the first op on
    const run = async (be: Backend & { releaseCached(): Promise<void> }) => {
      const w = arr(be, [4]);
      const ws = be.scale(w, 1);
      const wc = be.concat([ws, w], 0);
      await be.read(wc);
      for (const t of [w, ws, wc]) be.release(t);
      await be.releaseCached();
      const a = arr(be, [256]);
      const b = be.scale(a, 2);
      const c = be.scale(b, 3);
      be.release(b);
      const d = be.concat([c, c], 0); // grow-trim
      await be.read(d);
      be.release(a);
      be.release(c);
      const e = be.concat([d, d], 0); // disarmed: grows
      await be.releaseCached();
      await be.read(e);
    };
    const gpu = await testBackend();
    gpu.rt.setPoolPolicy(low);
    await run(gpu);
    const counting = new CountingBackend({ pool: low });
    await run(counting);
    expect({ ...countingCounters(counting), growTrims: counting.plan.pool.growTrims }).toEqual({
      ...gpuCounters(gpu.rt.stats), growTrims: gpu.rt.stats.growTrims,
    });
    expect(gpu.rt.stats.growTrims).toBe(1);
    expect(counting.plan.bytesAllocated).toBe(gpu.rt.stats.bytesAllocated);
  });

  it('a whole tiny edit after a smaller warm-up edit (as the worker runs at load), with grow-trims', async () => {
    // a lower free ratio than `low`: the tiny edit's pool (fused QKV since) then grow-trims several times
    const pool = { ...low, growTrimFreeRatio: 0.4 };
    const real = await realEdit('fp32', { steps: 3, preview: false, warmup: 32, pool });
    const plan = await planEdit({ configs: configs(TINY), size: 64, steps: 3, f16: false, warmup: 32, pool });
    const step = (k: keyof RuntimeStats) => real.ends[1][k] - real.ends[0][k];
    const measured = {
      dispatches_per_step: step('dispatches'), submits_per_step: step('submits'), readbacks_per_step: step('readbacks'),
      dispatches: real.final.dispatches, submits: real.final.submits, readbacks: real.final.readbacks,
      peak_bytes: real.final.peakBytes, max_buffer_bytes: real.final.maxBufferBytes, max_binding_bytes: real.final.maxBindingBytes,
      grow_trims: real.final.growTrims,
    };
    const meter = Object.fromEntries(Object.keys(measured).map((k) => [k, plan[k as keyof typeof plan]]));
    expect(meter).toEqual(measured);
    expect(measured.grow_trims).toBeGreaterThan(2);
    // no grow-trim inside the loop after its first step: still one submit per step, at every step
    for (let i = 1; i < real.ends.length; i++) expect(real.ends[i].submits - real.ends[i - 1].submits).toBe(1);
    console.log(`[meter] tiny warm edit with grow-trims: ${JSON.stringify(measured)}`);
  });
});

describe('planEdit at real scale (models/instruct-pix2pix configs, 512 x 512)', () => {
  it('FLOPs land on DESIGN.md section 5: UNet ~0.8 TFLOP per evaluation, VAE encode ~1.1, decode ~2.5, edit ~52', async () => {
    const p = await planEdit({ configs: configs(REAL), size: 512, steps: 20, f16: true });
    expect(p.latent).toEqual([64, 64]);
    expect(p.batch).toBe(3);
    const T = 1e12;
    expect(p.flops_per_unet_evaluation / T).toBeGreaterThan(0.72);
    expect(p.flops_per_unet_evaluation / T).toBeLessThan(0.88);
    expect(p.flops_by_stage.vae_encode / T).toBeGreaterThan(1.0);
    expect(p.flops_by_stage.vae_encode / T).toBeLessThan(1.2);
    expect(p.flops_by_stage.vae_decode / T).toBeGreaterThan(2.25);
    expect(p.flops_by_stage.vae_decode / T).toBeLessThan(2.75);
    expect(p.flops / T).toBeGreaterThan(47);
    expect(p.flops / T).toBeLessThan(57);
    expect(p.flops_by_stage.unet).toBeCloseTo(20 * 3 * p.flops_per_unet_evaluation, -3);
    console.log(`[meter] real 512 f16: UNet eval ${(p.flops_per_unet_evaluation / T).toFixed(3)} TFLOP, encode ` +
      `${(p.flops_by_stage.vae_encode / T).toFixed(3)}, decode ${(p.flops_by_stage.vae_decode / T).toFixed(3)}, edit ${(p.flops / T).toFixed(2)}`);
  });

  it('memory targets of issue 6: peak <= 2.6e9 (f16 activations) / 3.2e9 (f32), buffers <= 256 MiB, f16 bindings <= 128 MiB', async () => {
    for (const [act, limit] of [['f16', 2.6e9], ['f32', 3.2e9]] as const) {
      const p = await planEdit({ configs: configs(REAL), size: 512, steps: 20, f16: true, activationDtype: act });
      expect(p.peak_bytes, act).toBeLessThanOrEqual(limit);
      expect(p.max_buffer_bytes, act).toBeLessThanOrEqual(2 ** 28);
      if (act === 'f16') expect(p.max_binding_bytes).toBeLessThanOrEqual(2 ** 27);
      expect([p.submits_per_step, p.readbacks_per_step], act).toEqual([1, 0]);
      // the per-stage figures are where the totals come from: the largest of them is the total
      const stages = Object.values(p.peak_bytes_by_stage);
      expect(Math.max(...stages)).toBe(p.peak_bytes);
      for (const v of stages) expect(v).toBeGreaterThanOrEqual(p.weight_bytes);
      expect(Math.max(...Object.values(p.max_binding_by_stage).map((b) => b.bytes))).toBe(p.max_binding_bytes);
      const gb = (n: number) => (n / 1e9).toFixed(3);
      console.log(`[meter] real 512 f16 weights, ${act} activations: peak ${gb(p.peak_bytes)} GB (` +
        Object.entries(p.peak_bytes_by_stage).map(([s, v]) => `${s} ${gb(v)}`).join(', ') + `), ${p.grow_trims} grow-trims, ` +
        `largest binding ${p.max_binding_bytes} (${p.max_binding.op} [${p.max_binding.shape}])`);
    }
  });

  it('weight bytes are the published parameter counts x 2 (f16) or x 4 (f32)', async () => {
    const params = { unet: 859_532_484, vae: 83_653_863, text_encoder: 123_060_480 }; // diffusers / transformers counts
    for (const [f16, size] of [[true, 2], [false, 4]] as const) {
      const p = await planEdit({ configs: configs(REAL), size: 64, steps: 2, f16 });
      expect(p.weight_bytes_by_component).toEqual({ unet: params.unet * size, vae: params.vae * size, text_encoder: params.text_encoder * size });
      expect(p.weight_bytes).toBe((params.unet + params.vae + params.text_encoder) * size);
      expect(p.peak_weight_bytes).toBeGreaterThanOrEqual(p.weight_bytes);
      expect(p.peak_bytes).toBeGreaterThan(p.peak_weight_bytes);
    }
  });
});

describe('retouch bench --meter', () => {
  it('--json prints exactly one JSON object with the plan', () => {
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'bench', '--meter', '--model', TINY, '--size', '64', '--steps', '2', '--f32', '--weights', 'f32', '--json'],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const o = JSON.parse(lines[0]) as Record<string, unknown>;
    for (const k of ['flops', 'weight_bytes', 'peak_bytes', 'max_buffer_bytes', 'max_binding_bytes', 'dispatches_per_step',
      'submits_per_step', 'readbacks_per_step', 'flops_by_stage', 'flops_by_kind']) {
      expect(o, k).toHaveProperty(k);
    }
    expect(o.weight_dtype).toBe('f32');
    expect(o.activation_dtype).toBe('f32');
  });

  it('takes at most one mode', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'bench', '--meter', '--peer', '--model', TINY], {
      cwd: root, encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^retouch: bench: choose one mode of --meter, --peer, --real-scale, --tiny-edit, got --meter --peer/);
  });
});
