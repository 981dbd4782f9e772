// Smoke tests of the bench modes (src/cli/bench_*.ts): each runs at a tiny size on the Node WebGPU adapter and prints
// the documented JSON keys; FLOP counts and parameter totals are checked against independent formulas and counts.
// No timing is asserted: speed is what the benchmarks report, not what tests check.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as benchOps from '../../src/cli/bench_ops.ts';
import * as benchPeer from '../../src/cli/bench_peer.ts';
import * as benchRealScale from '../../src/cli/bench_real_scale.ts';
import * as benchTinyEdit from '../../src/cli/bench_tiny_edit.ts';
import { median } from '../../src/cli/bench_util.ts';
import { parseUNetConfig } from '../../src/engine/models/configs.ts';
import { UNet2DConditionModel } from '../../src/engine/models/unet_2d_condition.ts';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.ts';
import { halfBitsToF32 } from '../../src/engine/weights/f16.ts';
import { expectF16, testGpu } from '../helpers/gpu.ts';

/** Runs a mode with stdout captured (stderr progress is dropped); returns its exit code and stdout. */
async function capture(fn: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const code = await fn(argv);
    return { code, out };
  } finally {
    vi.restoreAllMocks();
  }
}

/** The one JSON object a --json run prints. */
function oneJson(out: string): Record<string, unknown> {
  const lines = out.trim().split('\n');
  expect(lines, 'exactly one line on stdout').toHaveLength(1);
  return JSON.parse(lines[0]) as Record<string, unknown>;
}

afterEach(() => vi.restoreAllMocks());

describe('bench helpers', () => {
  it('median of odd and even counts', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('bench (per-op throughput)', () => {
  it('--quick --json: every op row with FLOPs, bytes, ms and rates; conv2d FLOPs = 2 N Cout Ho Wo Cin k^2', async () => {
    const { code, out } = await capture(benchOps.run, ['--quick', '--json', '--warmup', '0', '--runs', '2', '--activations', 'f32']);
    expect(code).toBe(0);
    const r = oneJson(out) as unknown as benchOps.OpsReport;
    expect(Object.keys(r).sort()).toEqual(['activation_dtype', 'adapter', 'ops', 'runs', 'timer', 'warmup', 'weight_dtype'].sort());
    expect(r.adapter).not.toBe('');
    expect(['timestamp-query', 'wall']).toContain(r.timer);
    expect(r.weight_dtype).toBe('f16');
    expect(r.activation_dtype).toBe('f32');
    expect(r.ops.map((o) => o.op)).toEqual(['conv2d', 'conv2d', 'linear', 'linear', 'attention', 'attention', 'groupNorm', 'layerNorm']);
    for (const o of r.ops) {
      expect(o.ms_all, o.what).toHaveLength(2);
      expect(o.ms, o.what).toBeGreaterThan(0);
      expect(o.flops, o.what).toBeGreaterThan(0);
      expect(o.bytes, o.what).toBeGreaterThan(0);
      expect(o.gflops_per_s, o.what).toBeCloseTo(o.flops / (o.ms * 1e6), 6);
      expect(o.gb_per_s, o.what).toBeCloseTo(o.bytes / (o.ms * 1e6), 6);
    }
    // the quick conv: x [1,32,8,8], w [32,32,3,3] -> 2 * 1 * 32 * 8 * 8 * 32 * 9
    expect(r.ops[0].flops).toBe(2 * 32 * 64 * 32 * 9);
    // compulsory bytes: x f32, w f16, bias f16 read; y f32 written
    expect(r.ops[0].bytes).toBe(32 * 64 * 4 + 32 * 32 * 9 * 2 + 32 * 2 + 32 * 64 * 4);
    // the quick linear: [64,32] x [32,128]^T -> 2 * 64 * 128 * 32
    expect(r.ops[2].flops).toBe(2 * 64 * 128 * 32);
  });

  it('--activations f16 (lavapipe has shader-f16): activations stored in 2 bytes', async () => {
    if (!expectF16()) {
      await expect(capture(benchOps.run, ['--quick', '--activations', 'f16'])).rejects.toThrow(/needs an adapter with shader-f16/);
      return;
    }
    const { out } = await capture(benchOps.run, ['--quick', '--json', '--warmup', '0', '--runs', '1', '--only', 'conv2d', '--activations', 'f16']);
    const r = oneJson(out) as unknown as benchOps.OpsReport;
    expect(r.activation_dtype).toBe('f16');
    expect(r.ops[0].bytes).toBe(32 * 64 * 2 + 32 * 32 * 9 * 2 + 32 * 2 + 32 * 64 * 2);
  });

  it('--only picks ops by kind; an unknown op is a usage error', async () => {
    const { out } = await capture(benchOps.run, ['--quick', '--json', '--warmup', '0', '--runs', '1', '--only', 'layerNorm']);
    expect((oneJson(out) as unknown as benchOps.OpsReport).ops.map((o) => o.op)).toEqual(['layerNorm']);
    await expect(capture(benchOps.run, ['--quick', '--only', 'fft'])).rejects.toThrow(/unknown op fft/);
  });

  it('prints a table without --json', async () => {
    const { out } = await capture(benchOps.run, ['--quick', '--warmup', '0', '--runs', '1', '--only', 'groupNorm']);
    expect(out).toMatch(/^adapter: /);
    expect(out).toMatch(/op\s+shape\s+GFLOP\s+MB\s+ms\s+GFLOP\/s\s+GB\/s/);
    expect(out).toMatch(/\ngroupNorm /);
  });
});

describe('bench --tiny-edit', () => {
  it('--json: total and per-step ms of a 2-step 64x64 edit of the fixture model', async () => {
    const { code, out } = await capture(benchTinyEdit.run, ['--json', '--steps', '2', '--warmup', '0', '--runs', '1']);
    expect(code).toBe(0);
    const r = oneJson(out) as unknown as benchTinyEdit.TinyEditReport;
    for (const k of ['model', 'adapter', 'activation_dtype', 'size', 'steps', 'load_ms', 'total_ms', 'per_step_ms', 'encode_and_first_step_ms', 'decode_ms']) {
      expect(r, k).toHaveProperty(k);
    }
    expect(r.size).toBe(64);
    expect(r.steps).toBe(2);
    expect(r.total_runs_ms).toHaveLength(1);
    expect(r.per_step_ms).toBeGreaterThan(0);
    // the parts lie inside the whole
    expect(r.encode_and_first_step_ms + r.per_step_ms + r.decode_ms).toBeLessThanOrEqual(r.total_ms + 1e-6);
  });

  it('rejects --steps 1 (per-step times need two steps)', async () => {
    await expect(capture(benchTinyEdit.run, ['--steps', '1'])).rejects.toThrow(/--steps must be a whole number >= 2/);
  });
});

describe('bench --real-scale', () => {
  it('random weights: exactly the keys and shapes of the fixture UNet checkpoint, seeded and in range', () => {
    const config = parseUNetConfig(JSON.parse(readFileSync('models/tiny-ip2p/unet/config.json', 'utf8')));
    const shapes = benchRealScale.weightShapes((vb) => new UNet2DConditionModel(vb, config));
    // the reference: the header of the diffusers checkpoint itself
    const file = SafetensorsFile.fromArrayBuffer(readFileSync('models/tiny-ip2p/unet/diffusion_pytorch_model.safetensors'), 'unet');
    expect([...shapes.keys()].sort()).toEqual(file.keys().sort());
    for (const k of file.keys()) expect(shapes.get(k), k).toEqual(file.info(k).shape);

    const a = new benchRealScale.RandomF16Source('a', shapes, 7);
    const b = new benchRealScale.RandomF16Source('b', shapes, 7);
    const c = new benchRealScale.RandomF16Source('c', shapes, 8);
    const key = 'down_blocks.0.resnets.0.conv1.weight'; // [32, 32, 3, 3]: fan_in 288
    const da = a.data(key);
    expect(da.dtype).toBe('f16');
    expect(Array.from(da.data)).toEqual(Array.from(b.data(key).data));
    expect(Array.from(da.data)).not.toEqual(Array.from(c.data(key).data));
    const v = halfBitsToF32(da.data as Uint16Array);
    const bound = 1 / Math.sqrt(288);
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound * 1.001);
    expect(new Set(v).size).toBeGreaterThan(1000);
    const norm = halfBitsToF32(a.data('down_blocks.0.resnets.0.norm1.weight').data as Uint16Array);
    for (const x of norm) expect(Math.abs(x - 1)).toBeLessThanOrEqual(0.1001);
    expect(a.bytes).toBe(2 * (32 * 32 * 9 + 32));
  });

  it('--plan --json: the real model planned from its configs (2 bytes per parameter), nothing built', async () => {
    const { code, out } = await capture(benchRealScale.run, ['--plan', '--json']);
    expect(code).toBe(0);
    const r = oneJson(out) as unknown as benchRealScale.RealScaleReport;
    expect(r.size).toBe(512);
    expect(r.latent).toBe(64);
    expect(r.steps).toBe(20);
    // parameters: UNet 859,532,484 + VAE 83,653,863 + CLIP text 123,060,480 (tests/unit/unet_shapes, configs)
    expect(r.plan.edit.weight_bytes).toBe(2 * (859_532_484 + 83_653_863 + 123_060_480));
    expect(r.plan.unet_step.flops).toBeGreaterThan(2e12); // about 0.8 TFLOP per sample, 3 samples
    expect(r.unet_step.skipped).toMatch(/plan only/);
    expect(r.edit.skipped).toMatch(/plan only/);
    expect(r.build_ms).toBeNull();
  });

  it('default run on a CPU adapter: starts, plans, and skips with the projected time (no hours-long run)', async () => {
    const ctx = await testGpu();
    if (!benchRealScale.isCpuAdapter(ctx)) {
      // a real GPU runs the whole thing: that is the benchmark itself, not a unit test
      console.log('[bench test] adapter is not a CPU one: the default real-scale run is left to `npm run bench -- --real-scale`');
      return;
    }
    const { code, out } = await capture(benchRealScale.run, ['--json']);
    expect(code).toBe(0);
    const r = oneJson(out) as unknown as benchRealScale.RealScaleReport;
    expect(r.adapter).not.toBe('');
    expect(r.unet_step.skipped).toMatch(/CPU adapter: .* TFLOP to run, about .* \(pass --force/);
    expect(r.edit.skipped).toMatch(/CPU adapter/);
    expect(r.build_ms).toBeNull();
  });

  it('limits: a binding over maxStorageBufferBindingSize or a buffer over maxBufferSize is a skip reason', () => {
    const ctx = {
      limits: { maxStorageBufferBindingSize: 128 << 20, maxBufferSize: 256 << 20, maxComputeWorkgroupStorageSize: 16384 },
      adapterInfo: { vendor: 'nvidia', architecture: '', device: '', description: '' },
    };
    const p = { peak_bytes: 3e9, max_buffer_bytes: 200 << 20, max_binding_bytes: 100 << 20 };
    expect(benchRealScale.limitProblem(p, ctx)).toBeNull();
    expect(benchRealScale.limitProblem({ ...p, max_binding_bytes: 256 << 20 }, ctx)).toMatch(/maxStorageBufferBindingSize/);
    expect(benchRealScale.limitProblem({ ...p, max_buffer_bytes: 512 << 20 }, ctx)).toMatch(/maxBufferSize/);
    const cpu = { ...ctx, adapterInfo: { ...ctx.adapterInfo, vendor: 'mesa', description: 'llvmpipe' } };
    expect(benchRealScale.limitProblem(p, cpu, 1e9)).toMatch(/host has/);
  });

  it('runs end to end on a small config folder: UNet step and edit timed', async () => {
    const { code, out } = await capture(benchRealScale.run, [
      '--model', 'models/tiny-ip2p', '--size', '64', '--steps', '2', '--warmup', '0', '--runs', '1', '--json',
    ]);
    expect(code).toBe(0);
    const r = oneJson(out) as unknown as benchRealScale.RealScaleReport;
    expect(r.adapter).not.toBe('');
    expect(['f16', 'f32']).toContain(r.activation_dtype);
    expect(r.unet_step.skipped).toBeNull();
    expect(r.unet_step.ms).toBeGreaterThan(0);
    expect(r.unet_step.runs_ms).toHaveLength(1);
    expect(r.edit.skipped).toBeNull();
    expect(r.edit.total_ms).toBeGreaterThan(0);
    expect(r.edit.per_step_ms).toBeGreaterThan(0);
    // every weight of the three networks was made and uploaded once, f16
    expect(r.weight_bytes_uploaded).toBe(r.plan.edit.weight_bytes);
  });
});

describe('bench --peer (argument checks; the run itself takes minutes in Chromium)', () => {
  it('rejects sizes without an ONNX graph and a missing data folder, clearly', async () => {
    await expect(capture(benchPeer.run, ['--size', '48'])).rejects.toThrow(/--size must be 32 or 64/);
    await expect(capture(benchPeer.run, ['--data', '/nonexistent/bench'])).rejects.toThrow(
      /peer bench data not found: \/nonexistent\/bench\/sd15_down0.config.json/,
    );
  });

  it('FLOPs of the block from the counting backend match a hand count at 32x32', () => {
    // get_down_block kwargs as ../shared/bench/sd15_down0.config.json records them (SD 1.5 down_blocks.0)
    const cfg = JSON.stringify({
      get_down_block_kwargs: {
        down_block_type: 'CrossAttnDownBlock2D', num_layers: 2, transformer_layers_per_block: 1, in_channels: 320,
        out_channels: 320, temb_channels: 1280, add_downsample: true, resnet_eps: 1e-5, resnet_act_fn: 'silu',
        resnet_groups: 32, cross_attention_dim: 768, num_attention_heads: 8, downsample_padding: 1,
        use_linear_projection: false, only_cross_attention: false, resnet_time_scale_shift: 'default',
      },
    });
    const B = 3, C = 320, S = 32, L = S * S, T = 77, D = 768, heads = 8;
    const conv3 = (h: number) => 2 * B * C * h * h * C * 9;
    const lin = (m: number, n: number, k: number) => 2 * m * n * k;
    const resnet = conv3(S) * 2 + lin(B, C, 1280); // conv1, conv2, time_emb_proj
    const transformer =
      2 * lin(B * L, C, C) + // proj_in, proj_out (1x1 convs)
      4 * lin(B * L, C, C) + // attn1 q, k, v, out
      2 * lin(B * L, C, C) + 2 * lin(B * T, C, D) + // attn2 q, out; k, v from the text
      lin(B * L, 2560, C) + lin(B * L, C, 1280) + // GEGLU proj, ff out
      4 * B * heads * L * L * (C / heads) + 4 * B * heads * L * T * (C / heads); // q.k and p.v, self and cross
    const down = 2 * B * C * (S / 2) * (S / 2) * C * 9;
    const matmuls = 2 * resnet + 2 * transformer + down;
    const flops = benchPeer.blockFlops(cfg, 32);
    // the rest is per-element work (norms, softmax, GELU, adds): well under 1%
    expect(flops).toBeGreaterThan(matmuls);
    expect(flops).toBeLessThan(matmuls * 1.01);
  });
});
