// `retouch bench` (default mode): throughput of the heavy ops at Stable Diffusion shapes that fit these machines, on
// the Node WebGPU adapter. FLOPs and compulsory bytes per op come from the counting backend (engine/ops/counting,
// formulas in cost.ts), the same numbers the meter adds up, so GFLOP/s here and TFLOP there agree.
import { describeAdapter } from '../engine/gpu/device.ts';
import { acquireNodeDevice } from '../engine/gpu/node.ts';
import { CountingBackend } from '../engine/ops/counting/backend.ts';
import type { Backend, DType, Tensor, WeightData } from '../engine/ops/ops.ts';
import { numel, shapeStr } from '../engine/ops/ops.ts';
import { WebGpuBackend } from '../engine/ops/webgpu/backend.ts';
import { f32ToHalfBits } from '../engine/weights/f16.ts';
import { formatFlags, parseArgs, UsageError, type FlagSpecs } from './args.ts';
import { ACTIVATIONS_FLAG, activationDtype, fmtMs, formatTable, GpuTimer, median, say, uniform, type TimerKind } from './bench_util.ts';

export const summary = 'per-op throughput (conv2d, linear, attention, norms) at SD shapes: GFLOP/s and GB/s';

export const flags = {
  warmup: { type: 'number', value: 'N', help: 'untimed runs per op first (default 1)' },
  runs: { type: 'number', value: 'N', help: 'timed runs per op; the median is reported (default 3)' },
  only: { type: 'string', value: 'NAMES', help: 'comma-separated op names to run (e.g. conv2d,attention)' },
  full: { type: 'boolean', help: 'full SD shapes (the 1280x5120 linear with all 4096 rows) instead of the split ones' },
  quick: { type: 'boolean', help: 'tiny shapes: a smoke test of the mode, not a measurement' },
  f32: { type: 'boolean', help: 'f32 weights (default f16, as the fp16 checkpoints are stored)' },
  activations: ACTIVATIONS_FLAG,
  timer: { type: 'string', value: 'timestamp|wall', help: 'GPU timestamps where the adapter has them (default), or wall time' },
  json: { type: 'boolean', help: 'print exactly one JSON object on stdout' },
} satisfies FlagSpecs;

export const usage = `usage: retouch bench [OPTIONS]\n${summary}\n${formatFlags(flags)}`;

interface Input {
  shape: number[];
  /** Weights are stored at the chosen weight dtype, activations at the activation dtype. */
  weight?: boolean;
  /** Values uniform in [-scale, scale). */
  scale?: number;
}

interface OpCase {
  /** Op kind (what --only matches). */
  op: string;
  /** What the row shows: the SD shape it stands for. */
  what: string;
  inputs: Input[];
  run(be: Backend, t: Tensor[]): Tensor;
}

/** The SD 1.5 shapes: batch 3 (an InstructPix2Pix step), 320 channels at 32x32 (a 256 px image) unless noted. */
function cases(o: { full: boolean; quick: boolean }): OpCase[] {
  const q = o.quick;
  const B = q ? 1 : 3;
  const C = q ? 32 : 320;
  const HW = q ? 8 : 32;
  const T = HW * HW; // tokens
  const rows = q ? 64 : 4096;
  const bigRows = q ? 64 : o.full ? 4096 : 1024;
  const [k2, n2] = q ? [64, 128] : [1280, 5120];
  const vae = q ? 16 : 128;
  const vaeHW = q ? 16 : 128;
  const heads = q ? 4 : 8;
  const ctx = 77;
  return [
    {
      op: 'conv2d', what: `3x3 ${C}->${C}, ${B}x${C}x${HW}x${HW}`,
      inputs: [{ shape: [B, C, HW, HW] }, { shape: [C, C, 3, 3], weight: true, scale: 0.02 }, { shape: [C], weight: true, scale: 0.1 }],
      run: (be, [x, w, b]) => be.conv2d(x, w, b, { pad: [1, 1, 1, 1] }),
    },
    {
      op: 'conv2d', what: `3x3 ${vae}->${vae} (VAE), 1x${vae}x${vaeHW}x${vaeHW}`,
      inputs: [{ shape: [1, vae, vaeHW, vaeHW] }, { shape: [vae, vae, 3, 3], weight: true, scale: 0.03 }, { shape: [vae], weight: true, scale: 0.1 }],
      run: (be, [x, w, b]) => be.conv2d(x, w, b, { pad: [1, 1, 1, 1] }),
    },
    {
      op: 'linear', what: `${rows}x${C} @ ${C}x${4 * C}`,
      inputs: [{ shape: [1, rows, C] }, { shape: [4 * C, C], weight: true, scale: 0.05 }, { shape: [4 * C], weight: true, scale: 0.1 }],
      run: (be, [x, w, b]) => be.linear(x, w, b),
    },
    {
      op: 'linear', what: `${bigRows}x${k2} @ ${k2}x${n2}${!q && !o.full ? ' (1/4 of 4096 rows)' : ''}`,
      inputs: [{ shape: [1, bigRows, k2] }, { shape: [n2, k2], weight: true, scale: 0.03 }, { shape: [n2], weight: true, scale: 0.1 }],
      run: (be, [x, w, b]) => be.linear(x, w, b),
    },
    {
      op: 'attention', what: `self ${B}x${T} tokens, ${heads} heads x ${C / heads}`,
      inputs: [{ shape: [B, T, C] }, { shape: [B, T, C] }, { shape: [B, T, C] }],
      run: (be, [qq, k, v]) => be.attention(qq, k, v, { heads }),
    },
    {
      op: 'attention', what: `cross ${B}x${T} x ${ctx} text tokens, ${heads} heads x ${C / heads}`,
      inputs: [{ shape: [B, T, C] }, { shape: [B, ctx, C] }, { shape: [B, ctx, C] }],
      run: (be, [qq, k, v]) => be.attention(qq, k, v, { heads }),
    },
    {
      op: 'groupNorm', what: `32 groups + SiLU, ${B}x${C}x${2 * HW}x${2 * HW}`,
      inputs: [{ shape: [B, C, 2 * HW, 2 * HW] }, { shape: [C], weight: true }, { shape: [C], weight: true, scale: 0.1 }],
      run: (be, [x, g, b]) => be.groupNorm(x, g, b, { groups: q ? 8 : 32, eps: 1e-5, silu: true }),
    },
    {
      op: 'layerNorm', what: `${B}x${rows}x${C}`,
      inputs: [{ shape: [B, rows, C] }, { shape: [C], weight: true }, { shape: [C], weight: true, scale: 0.1 }],
      run: (be, [x, g, b]) => be.layerNorm(x, g, b, 1e-5),
    },
  ];
}

export interface OpResult {
  op: string;
  what: string;
  shapes: string[];
  flops: number;
  /** Compulsory bytes: inputs and weights read once, the output written once (cost.ts). */
  bytes: number;
  ms: number;
  ms_all: number[];
  gflops_per_s: number;
  gb_per_s: number;
}

export interface OpsReport {
  adapter: string;
  timer: TimerKind;
  weight_dtype: DType;
  activation_dtype: DType;
  warmup: number;
  runs: number;
  ops: OpResult[];
}

function hostData(inp: Input, seed: number, wdt: DType): { act?: Float32Array; w?: WeightData } {
  const v = uniform(numel(inp.shape), seed, inp.scale ?? 1);
  if (!inp.weight) return { act: v };
  return { w: wdt === 'f16' ? { dtype: 'f16', data: f32ToHalfBits(v) } : { dtype: 'f32', data: v } };
}

function toBackend(be: Backend, inp: Input, d: { act?: Float32Array; w?: WeightData }, adt: DType): Tensor {
  if (!d.act) return be.weight(d.w!, inp.shape);
  const x = be.fromArray(d.act, inp.shape); // f32, as uploads are
  if (adt === 'f32') return x;
  // stored as the ops' own outputs are: one pass through an op (x * 1) converts
  const y = be.scale(x, 1);
  be.release(x);
  return y;
}

/** FLOPs and bytes of one run of c, from the counting backend's ledger. */
async function cost(c: OpCase, data: { act?: Float32Array; w?: WeightData }[], wdt: DType, adt: DType): Promise<{ flops: number; bytes: number }> {
  const cb = new CountingBackend({ weightDtype: wdt, activationDtype: adt });
  const ts = c.inputs.map((inp, i) => toBackend(cb, inp, data[i], adt));
  await cb.flush();
  const before = cb.ledger.snapshot();
  c.run(cb, ts);
  const after = cb.ledger.snapshot();
  return { flops: after.flops - before.flops, bytes: after.bytesRead - before.bytesRead + (after.bytesWritten - before.bytesWritten) };
}

function positive(v: number | undefined, flag: string, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) throw new UsageError(`--${flag} must be a whole number >= ${min}, got ${v}`);
  return v;
}

export async function run(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
  const warmup = positive(f.warmup, 'warmup', 1, 0);
  const runs = positive(f.runs, 'runs', 3, 1);
  const timerPref = f.timer ?? 'timestamp';
  if (timerPref !== 'timestamp' && timerPref !== 'wall') throw new UsageError(`--timer must be timestamp or wall, got ${timerPref}`);
  const wdt: DType = f.f32 ? 'f32' : 'f16';
  let list = cases({ full: f.full, quick: f.quick });
  if (f.only !== undefined) {
    const want = f.only.split(',').map((s) => s.trim()).filter(Boolean);
    const known = [...new Set(list.map((c) => c.op))];
    const bad = want.filter((w) => !known.includes(w));
    if (bad.length) throw new UsageError(`--only: unknown op ${bad.join(', ')} (ops: ${known.join(', ')})`);
    list = list.filter((c) => want.includes(c.op));
  }

  const ctx = await acquireNodeDevice();
  const adapter = describeAdapter(ctx);
  let adt: DType;
  try {
    adt = activationDtype(f.activations, ctx);
  } catch (e) {
    ctx.device.destroy();
    throw e;
  }
  const be = new WebGpuBackend(ctx);
  be.rt.activationDtype = adt;
  const timer = new GpuTimer(ctx, timerPref === 'wall' ? 'wall' : 'timestamp-query');
  say(`bench ops on ${adapter}; timer ${timer.kind}; weights ${wdt}, activations ${adt}; ${warmup} warm-up + ${runs} timed runs per op`);

  const results: OpResult[] = [];
  try {
    for (const [i, c] of list.entries()) {
      const data = c.inputs.map((inp, j) => hostData(inp, 1000 * i + j + 1, wdt));
      const { flops, bytes } = await cost(c, data, wdt, adt);
      const ts = c.inputs.map((inp, j) => toBackend(be, inp, data[j], adt));
      await be.flush();
      const once = async () => {
        const y = c.run(be, ts);
        await be.flush();
        be.release(y);
      };
      for (let w = 0; w < warmup; w++) {
        await once();
        await ctx.device.queue.onSubmittedWorkDone();
      }
      const times: number[] = [];
      for (let r = 0; r < runs; r++) times.push(await timer.time(once));
      for (const t of ts) be.release(t);
      const ms = median(times);
      const res: OpResult = {
        op: c.op,
        what: c.what,
        shapes: c.inputs.map((inp) => shapeStr(inp.shape)),
        flops,
        bytes,
        ms,
        ms_all: times,
        gflops_per_s: flops / (ms * 1e6),
        gb_per_s: bytes / (ms * 1e6),
      };
      results.push(res);
      say(`  ${c.op} ${c.what}: ${fmtMs(ms)} ms, ${res.gflops_per_s.toPrecision(3)} GFLOP/s, ${res.gb_per_s.toPrecision(3)} GB/s`);
    }
  } finally {
    timer.destroy();
    be.rt.trim();
    ctx.device.destroy();
  }

  const report: OpsReport = { adapter, timer: timer.kind, weight_dtype: wdt, activation_dtype: adt, warmup, runs, ops: results };
  if (f.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    process.stdout.write(`adapter: ${adapter}\ntimer: ${timer.kind}, median of ${runs} after ${warmup} warm-up; weights ${wdt}, activations ${adt}\n\n`);
    process.stdout.write(
      formatTable(
        ['op', 'shape', 'GFLOP', 'MB', 'ms', 'GFLOP/s', 'GB/s'],
        results.map((r) => [
          r.op, r.what, (r.flops / 1e9).toFixed(3), (r.bytes / 1e6).toFixed(1), fmtMs(r.ms),
          r.gflops_per_s.toPrecision(3), r.gb_per_s.toPrecision(3),
        ]),
        2,
      ),
    );
  }
  return 0;
}
