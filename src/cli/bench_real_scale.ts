// `retouch bench --real-scale`: the real-size networks (models/instruct-pix2pix configs) with seeded random f16
// weights, made tensor by tensor as they are uploaded (the host never holds the 2 GB at once): one UNet step at
// the latent of --size (64x64 for 512, batch 3) and a whole --size, --steps edit. The meter's plan comes first, and
// what this adapter's limits cannot hold is skipped with the reason. Made for a real GPU: on a CPU adapter use
// small trials (--size 128 --steps 2).
import { freemem } from 'node:os';
import { existsSync } from 'node:fs';
import { describeAdapter, type GpuContext } from '../engine/gpu/device.ts';
import { acquireNodeDevice } from '../engine/gpu/node.ts';
import { planEdit, type EditPlan } from '../engine/meter.ts';
import { AutoencoderKL } from '../engine/models/autoencoder_kl.ts';
import { parseClipTextConfig, parseUNetConfig, parseVaeConfig, type UNet2DConditionConfig } from '../engine/models/configs.ts';
import { CLIPTextModel } from '../engine/models/modeling_clip.ts';
import { UNet2DConditionModel } from '../engine/models/unet_2d_condition.ts';
import { CountingBackend } from '../engine/ops/counting/backend.ts';
import type { DType, WeightData } from '../engine/ops/ops.ts';
import { WebGpuBackend } from '../engine/ops/webgpu/backend.ts';
import { InstructPix2PixPipeline } from '../engine/pipelines/pipeline_instruct_pix2pix.ts';
import type { SchedulerConfigJson } from '../engine/schedulers/index.ts';
import { ClipTokenizer } from '../engine/tokenizer/clip_tokenizer.ts';
import { nodeFolderSource, readPipelineConfigs } from '../engine/weights/diffusers.ts';
import { f32ToHalfBit } from '../engine/weights/f16.ts';
import { VarBuilder, type WeightSource } from '../engine/weights/var_builder.ts';
import { formatFlags, parseArgs, UsageError, type FlagSpecs } from './args.ts';
import { ACTIVATIONS_FLAG, activationDtype, fmtMs, formatPairs, GpuTimer, median, say, testImage, uniform } from './bench_util.ts';
import { formatDuration } from './progress.ts';

export const summary = 'real-size UNet, VAE and text encoder with random f16 weights: one UNet step and a whole edit';

export const flags = {
  model: { type: 'string', short: 'm', value: 'DIR', help: 'config folder (default models/instruct-pix2pix; no weights needed)' },
  size: { type: 'number', value: 'PX', help: 'image side, a multiple of 8 (default 512: 64x64 latents)' },
  steps: { type: 'number', value: 'N', help: 'denoising steps of the edit, at least 2 (default 20)' },
  warmup: { type: 'number', value: 'N', help: 'untimed UNet steps first (default 1: compiles the pipelines)' },
  runs: { type: 'number', value: 'N', help: 'timed UNet steps; the median is reported (default 1)' },
  seed: { type: 'number', value: 'N', help: 'seed of the random weights (default 0)' },
  activations: ACTIVATIONS_FLAG,
  'skip-edit': { type: 'boolean', help: 'time the UNet step only' },
  plan: { type: 'boolean', help: 'print the plan and the limits check, build nothing' },
  force: { type: 'boolean', help: 'run on a CPU adapter even when the plan projects more than 30 minutes there' },
  json: { type: 'boolean', help: 'print exactly one JSON object on stdout' },
} satisfies FlagSpecs;

export const usage = `usage: retouch bench --real-scale [OPTIONS]\n${summary}\n${formatFlags(flags)}`;

// ---- random weights ------------------------------------------------------------------------------------------

/** key -> shape of every weight `build` asks for: the model is built shape-only through a VarBuilder that records. */
export function weightShapes(build: (vb: VarBuilder) => unknown): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const wrap = (vb: VarBuilder): VarBuilder =>
    new Proxy(vb, {
      get(target, prop) {
        if (prop === 'pp') return (name: string | number) => wrap(target.pp(name));
        if (prop === 'get') {
          return (name: string, shape: readonly number[]) => {
            shapes.set(target.path ? `${target.path}.${name}` : name, [...shape]);
            return target.get(name, shape);
          };
        }
        const v: unknown = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  build(wrap(VarBuilder.from(null, null)));
  return shapes;
}

function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h || 1;
}

/**
 * Seeded random f16 weights for a fixed key -> shape list, made when data() is asked (once per tensor, as the
 * VarBuilder uploads it). PyTorch-like scales so activations stay in range: norm scales 1 +- 0.1, biases +- 0.05,
 * other weights uniform +- 1/sqrt(fan_in). Values come from a 4096-entry table per tensor, for speed.
 */
export class RandomF16Source implements WeightSource {
  /** Bytes handed out so far. */
  bytes = 0;
  constructor(
    readonly name: string,
    private readonly shapes: ReadonlyMap<string, readonly number[]>,
    private readonly seed = 0,
    private readonly onData?: (bytes: number) => void,
  ) {}

  keys(): string[] {
    return [...this.shapes.keys()];
  }
  shape(key: string): readonly number[] | undefined {
    return this.shapes.get(key);
  }
  data(key: string): WeightData {
    const shape = this.shapes.get(key);
    if (!shape) throw new Error(`${this.name}: no weight ${key}`);
    const n = shape.reduce((a, b) => a * b, 1);
    const isNormScale = shape.length === 1 && key.endsWith('.weight');
    const bound = isNormScale ? 0.1 : key.endsWith('.bias') ? 0.05 : 1 / Math.sqrt(n / shape[0]);
    const h = hash32(key, this.seed);
    const table = new Uint16Array(4096);
    const vals = uniform(4096, h, bound);
    for (let i = 0; i < 4096; i++) table[i] = f32ToHalfBit(isNormScale ? 1 + vals[i] : vals[i]);
    const out = new Uint16Array(n);
    let s = h;
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out[i] = table[(s >>> 4) & 4095];
    }
    this.bytes += 2 * n;
    this.onData?.(this.bytes);
    return { dtype: 'f16', data: out };
  }
}

/** Builds a model on `be` with random weights for exactly the keys it asks for, checked by VarBuilder.finish(). */
function buildRandom<M>(
  be: WebGpuBackend,
  name: string,
  seed: number,
  make: (vb: VarBuilder) => M,
  onData?: (bytes: number) => void,
): { model: M; bytes: number } {
  const source = new RandomF16Source(name, weightShapes(make), seed, onData);
  const vb = VarBuilder.from(be, source);
  const model = make(vb);
  vb.finish();
  return { model, bytes: source.bytes };
}

// ---- planning ----------------------------------------------------------------------------------------------------

export interface StepPlan {
  flops: number;
  peak_bytes: number;
  max_buffer_bytes: number;
  max_binding_bytes: number;
  max_binding: string;
}

/** One UNet forward at batch 3 on the counting backend (f16 weights, as the GPU will hold them). */
export function planUnetStep(config: UNet2DConditionConfig, latent: number, activationDtype: DType = 'f32'): StepPlan {
  const cb = new CountingBackend({ weightDtype: 'f16', activationDtype });
  const unet = new UNet2DConditionModel(VarBuilder.from(cb, null), config);
  cb.adoptWeights(unet, 'unet');
  const zeros = (shape: number[]) => cb.fromArray(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  const before = cb.ledger.snapshot().flops;
  unet.forward(zeros([3, config.in_channels, latent, latent]), new Float32Array([999]), zeros([3, 77, config.cross_attention_dim[0]]));
  const mb = cb.ledger.maxBinding;
  return {
    flops: cb.ledger.snapshot().flops - before,
    peak_bytes: cb.plan.peakBytes,
    max_buffer_bytes: cb.plan.maxBufferBytes,
    max_binding_bytes: mb.bytes,
    max_binding: `${mb.op} [${mb.shape.join(',')}]`,
  };
}

/** Mesa's lavapipe (llvmpipe) and SwiftShader compute on the CPU. */
export function isCpuAdapter(ctx: Pick<GpuContext, 'adapterInfo'>): boolean {
  const i = ctx.adapterInfo;
  return /llvmpipe|lavapipe|swiftshader/i.test(`${i.vendor} ${i.architecture} ${i.device} ${i.description}`);
}

/** Why this adapter cannot run a plan (null when its limits hold it). */
export function limitProblem(
  p: { peak_bytes: number; max_buffer_bytes: number; max_binding_bytes: number },
  ctx: Pick<GpuContext, 'limits' | 'adapterInfo'>,
  hostFree = freemem(),
): string | null {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const l = ctx.limits;
  if (p.max_binding_bytes > l.maxStorageBufferBindingSize) {
    return `a ${mib(p.max_binding_bytes)} binding is over this adapter's maxStorageBufferBindingSize ${mib(l.maxStorageBufferBindingSize)}`;
  }
  if (p.max_buffer_bytes > l.maxBufferSize) {
    return `a ${mib(p.max_buffer_bytes)} buffer is over this adapter's maxBufferSize ${mib(l.maxBufferSize)}`;
  }
  // A CPU adapter's GPU memory is this machine's memory; a real GPU's size WebGPU does not tell.
  if (isCpuAdapter(ctx) && p.peak_bytes > 0.8 * hostFree) {
    return `${mib(p.peak_bytes)} of GPU memory needed, this CPU adapter's host has ${mib(hostFree)} free`;
  }
  return null;
}

/** What the projection on CPU adapters assumes, and how long it lets a run take without --force. */
const CPU_ADAPTER_FLOPS = 1e9;
const CPU_ADAPTER_LIMIT_S = 30 * 60;

// ---- the run -----------------------------------------------------------------------------------------------------

export interface RealScaleReport {
  model: string;
  adapter: string;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  activation_dtype: DType;
  size: number;
  latent: number;
  steps: number;
  batch: number;
  plan: {
    unet_step: StepPlan;
    edit: Pick<EditPlan, 'flops' | 'weight_bytes' | 'peak_bytes' | 'max_buffer_bytes' | 'max_binding_bytes' | 'dispatches_per_step'> & {
      max_binding: string;
    };
  };
  /** Generating and uploading the random weights and building the networks. */
  build_ms: number | null;
  weight_bytes_uploaded: number;
  unet_step: {
    skipped: string | null;
    /** Median wall time: record, submit, GPU done. */
    ms: number | null;
    /** Median GPU time from timestamp queries (null without them). */
    gpu_ms: number | null;
    runs_ms: number[];
    tflops_per_s: number | null;
  };
  edit: {
    skipped: string | null;
    total_ms: number | null;
    /** Median over steps 2..N (each step's flush waits for the GPU). */
    per_step_ms: number | null;
  };
}

function count(v: number | undefined, flag: string, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) throw new UsageError(`--${flag} must be a whole number >= ${min}, got ${v}`);
  return v;
}

const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

export async function run(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
  const model = f.model ?? 'models/instruct-pix2pix';
  const size = count(f.size, 'size', 512, 8);
  if (size % 8) throw new UsageError(`--size must be a multiple of 8, got ${size}`);
  const steps = count(f.steps, 'steps', 20, 2);
  const warmup = count(f.warmup, 'warmup', 1, 0);
  const runs = count(f.runs, 'runs', 1, 1);
  const seed = count(f.seed, 'seed', 0, 0);
  if (!existsSync(model)) throw new Error(`model folder not found: ${model}`);

  // 1. the device (none for --plan: 'auto' activations are then planned as f16, the path of shader-f16 adapters)
  const ctx = f.plan ? null : await acquireNodeDevice();
  try {
    const adt = activationDtype(f.activations, ctx ?? { features: { shaderF16: true, subgroups: false, timestampQuery: false } });

    // 2. the plan: configs only
    const info = await readPipelineConfigs(nodeFolderSource(model));
    const unetConfig = parseUNetConfig(info.configs.unet);
    const vaeConfig = parseVaeConfig(info.configs.vae);
    const textConfig = parseClipTextConfig(info.configs.text_encoder);
    const latent = size / 2 ** (vaeConfig.block_out_channels.length - 1);
    const stepPlan = planUnetStep(unetConfig, latent, adt);
    const ep = await planEdit({ configs: info.configs, size, steps, f16: true, activationDtype: adt });
    const plan: RealScaleReport['plan'] = {
      unet_step: stepPlan,
      edit: {
        flops: ep.flops, weight_bytes: ep.weight_bytes, peak_bytes: ep.peak_bytes, max_buffer_bytes: ep.max_buffer_bytes,
        max_binding_bytes: ep.max_binding_bytes, dispatches_per_step: ep.dispatches_per_step,
        max_binding: `${ep.max_binding.op} [${ep.max_binding.shape.join(',')}]`,
      },
    };
    say(`bench --real-scale: ${model}, ${size}x${size} (latent ${latent}x${latent}, batch 3), ${steps} steps, random f16 weights ` +
      `(seed ${seed}), ${adt} activations`);
    say(`  plan, UNet step: ${(stepPlan.flops / 1e12).toFixed(3)} TFLOP, peak ${gb(stepPlan.peak_bytes)}, largest binding ` +
      `${mib(stepPlan.max_binding_bytes)} (${stepPlan.max_binding})`);
    say(`  plan, edit: ${(ep.flops / 1e12).toFixed(2)} TFLOP, weights ${gb(ep.weight_bytes)}, peak ${gb(ep.peak_bytes)}, largest buffer ` +
      `${mib(ep.max_buffer_bytes)}, largest binding ${mib(ep.max_binding_bytes)} (${plan.edit.max_binding}), ${ep.dispatches_per_step} dispatches/step`);

    const report: RealScaleReport = {
      model, adapter: '', limits: { maxStorageBufferBindingSize: 0, maxBufferSize: 0 }, activation_dtype: adt, size, latent, steps,
      batch: 3, plan, build_ms: null, weight_bytes_uploaded: 0,
      unet_step: { skipped: null, ms: null, gpu_ms: null, runs_ms: [], tflops_per_s: null },
      edit: { skipped: f['skip-edit'] ? 'not asked for (--skip-edit)' : null, total_ms: null, per_step_ms: null },
    };
    const finish = () => {
      process.stdout.write(f.json ? JSON.stringify(report) + '\n' : realScaleTable(report));
      return 0;
    };
    if (!ctx) {
      report.unet_step.skipped = report.edit.skipped = 'plan only (--plan)';
      return finish();
    }

    // 3. the adapter's limits against the plan
    report.adapter = describeAdapter(ctx);
    report.limits = { maxStorageBufferBindingSize: ctx.limits.maxStorageBufferBindingSize, maxBufferSize: ctx.limits.maxBufferSize };
    say(`  adapter: ${report.adapter}`);
    const stepProblem = limitProblem(stepPlan, ctx);
    const editProblem = limitProblem(ep, ctx);
    if (stepProblem) report.unet_step.skipped = `skipped: ${stepProblem}`;
    if (editProblem && !report.edit.skipped) report.edit.skipped = `skipped: ${editProblem}`;
    for (const [what, why] of [['UNet step', report.unet_step.skipped], ['edit', report.edit.skipped]] as const) {
      if (why) say(`  ${what}: ${why}`);
    }
    if (report.unet_step.skipped && report.edit.skipped) return finish();
    if (isCpuAdapter(ctx)) {
      // lavapipe and SwiftShader reach about 1 GFLOP/s on small machines: say what that means before hours go by
      const work = (report.unet_step.skipped ? 0 : (warmup + runs) * stepPlan.flops) + (report.edit.skipped ? 0 : ep.flops);
      const projected = work / CPU_ADAPTER_FLOPS;
      const why = `a CPU adapter: ${(work / 1e12).toFixed(2)} TFLOP to run, about ${formatDuration(projected * 1000)} at ~1 GFLOP/s`;
      if (projected > CPU_ADAPTER_LIMIT_S && !f.force) {
        const skip = `skipped: ${why} (pass --force to run it anyway, or try --size 128 --steps 2)`;
        report.unet_step.skipped ??= skip;
        report.edit.skipped ??= skip;
        say(`  ${skip}`);
        return finish();
      }
      say(`  note: ${why}; the UNet weights are made and uploaded whatever the size`);
    }
    const be = new WebGpuBackend(ctx);
    be.rt.activationDtype = adt;
    const flush = be.flush.bind(be);

    // 4. the networks, weights made and uploaded one tensor at a time
    const total = report.edit.skipped ? ep.weight_bytes_by_component.unet : ep.weight_bytes;
    let lastShown = 0;
    const progress = (bytes: number) => {
      if (bytes - lastShown >= 256e6) say(`  weights: ${gb((lastShown = bytes))} of ${gb(total)}`);
    };
    const t0 = performance.now();
    let uploaded = 0;
    const unetB = buildRandom(be, 'random unet', seed, (vb) => new UNet2DConditionModel(vb, unetConfig), (b) => progress(uploaded + b));
    uploaded += unetB.bytes;
    await flush();
    report.weight_bytes_uploaded = uploaded;
    report.build_ms = performance.now() - t0;
    say(`  UNet built: ${gb(uploaded)} of weights in ${fmtMs(report.build_ms)} ms`);

    // 5. one UNet step at batch 3
    if (!report.unet_step.skipped) {
      const timer = new GpuTimer(ctx);
      const sample = be.fromArray(uniform(3 * unetConfig.in_channels * latent * latent, seed + 1), [3, unetConfig.in_channels, latent, latent]);
      const text = be.fromArray(uniform(3 * 77 * textConfig.hidden_size, seed + 2), [3, 77, textConfig.hidden_size]);
      const step = async () => {
        const eps = unetB.model.forward(sample, new Float32Array([999]), text); // [3, 4, latent, latent]
        await flush();
        be.release(eps);
      };
      const gpu: number[] = [];
      for (let i = 0; i < warmup + runs; i++) {
        const w0 = performance.now();
        const g = await timer.time(step);
        const wall = performance.now() - w0;
        if (i < warmup) {
          say(`  UNet step warm-up ${i + 1}/${warmup}: ${fmtMs(wall)} ms`);
          continue;
        }
        report.unet_step.runs_ms.push(wall);
        if (timer.kind === 'timestamp-query') gpu.push(g);
        say(`  UNet step ${i + 1 - warmup}/${runs}: ${fmtMs(wall)} ms${timer.kind === 'timestamp-query' ? ` (GPU ${fmtMs(g)} ms)` : ''}`);
      }
      timer.destroy();
      be.release(sample);
      be.release(text);
      const ms = median(report.unet_step.runs_ms);
      report.unet_step.ms = ms;
      report.unet_step.gpu_ms = gpu.length ? median(gpu) : null;
      report.unet_step.tflops_per_s = stepPlan.flops / (ms * 1e9);
    }

    // 6. the whole edit
    if (!report.edit.skipped) {
      const t1 = performance.now();
      const textB = buildRandom(be, 'random text_encoder', seed, (vb) => new CLIPTextModel(vb, textConfig), (b) => progress(uploaded + b));
      uploaded += textB.bytes;
      const vaeB = buildRandom(be, 'random vae', seed, (vb) => new AutoencoderKL(vb, vaeConfig), (b) => progress(uploaded + b));
      uploaded += vaeB.bytes;
      await flush();
      report.weight_bytes_uploaded = uploaded;
      report.build_ms = (report.build_ms ?? 0) + (performance.now() - t1);
      const pipe = new InstructPix2PixPipeline(be, {
        tokenizer: ClipTokenizer.fromFiles(info.tokenizer),
        textEncoder: textB.model,
        vae: vaeB.model,
        unet: unetB.model,
        schedulerConfig: info.configs.scheduler as SchedulerConfigJson,
        scalingFactor: vaeConfig.scaling_factor,
      });
      // Step boundaries are GPU-complete: the pipeline flushes once per step, and here that flush also waits.
      be.flush = async () => {
        await flush();
        await ctx.device.queue.onSubmittedWorkDone();
      };
      if (report.unet_step.ms !== null) {
        const eta = (ep.flops / stepPlan.flops) * report.unet_step.ms;
        say(`  edit: ${(ep.flops / 1e12).toFixed(2)} TFLOP, about ${formatDuration(eta)} at the UNet step's rate`);
      }
      const marks: number[] = [];
      const start = performance.now();
      await pipe.edit(
        testImage(size),
        { prompt: 'make it look like a snowy winter day', steps, seed, maxSize: size },
        {
          onProgress: (p) => {
            if (p.stage !== 'denoise') return;
            marks.push(performance.now());
            say(`  edit: step ${p.step}/${p.steps} at ${fmtMs(marks[marks.length - 1] - start)} ms`);
          },
        },
      );
      report.edit.total_ms = performance.now() - start;
      report.edit.per_step_ms = median(marks.slice(1).map((t, i) => t - marks[i]));
      say(`  edit: ${fmtMs(report.edit.total_ms)} ms`);
    }
    return finish();
  } finally {
    ctx?.device.destroy();
  }
}

function realScaleTable(r: RealScaleReport): string {
  const p = r.plan;
  const ms = (x: number | null) => (x === null ? '-' : `${fmtMs(x)} ms`);
  return formatPairs([
    ['model', `${r.model} (random f16 weights, ${r.activation_dtype} activations)`],
    ['adapter', r.adapter || '(not opened)'],
    ['limits', r.adapter ? `maxStorageBufferBindingSize ${mib(r.limits.maxStorageBufferBindingSize)}, maxBufferSize ${mib(r.limits.maxBufferSize)}` : '-'],
    ['image / latent', `${r.size}x${r.size} / ${r.latent}x${r.latent}, UNet batch ${r.batch}, ${r.steps} steps`],
    ['plan: UNet step', `${(p.unet_step.flops / 1e12).toFixed(3)} TFLOP, peak ${gb(p.unet_step.peak_bytes)}, largest binding ${mib(p.unet_step.max_binding_bytes)}`],
    ['plan: edit', `${(p.edit.flops / 1e12).toFixed(2)} TFLOP, weights ${gb(p.edit.weight_bytes)}, peak ${gb(p.edit.peak_bytes)}, ` +
      `largest buffer ${mib(p.edit.max_buffer_bytes)}, largest binding ${mib(p.edit.max_binding_bytes)} (${p.edit.max_binding})`],
    ['build (random weights)', r.build_ms === null ? '-' : `${ms(r.build_ms)} for ${gb(r.weight_bytes_uploaded)}`],
    ['UNet step', r.unet_step.skipped ?? `${ms(r.unet_step.ms)} wall, GPU ${ms(r.unet_step.gpu_ms)}, ` +
      `${r.unet_step.tflops_per_s!.toFixed(3)} TFLOP/s (median of ${r.unet_step.runs_ms.length})`],
    ['edit total', r.edit.skipped ?? ms(r.edit.total_ms)],
    ['edit per step', r.edit.skipped ? '-' : ms(r.edit.per_step_ms)],
  ]);
}
