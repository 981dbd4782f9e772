// `retouch bench --tiny-edit`: the fixture model's whole edit (text encoder, VAE encode, the denoising loop with the
// batch of 3, VAE decode, the u8 image read back) on the Node WebGPU adapter, timed end to end and per step. Each
// step's flush waits for the GPU here, so a step's time is its GPU work, not just its recording.
import { existsSync } from 'node:fs';
import { describeAdapter } from '../engine/gpu/device.ts';
import { acquireNodeDevice } from '../engine/gpu/node.ts';
import { WebGpuBackend } from '../engine/ops/webgpu/backend.ts';
import { buildPipeline } from '../engine/pipelines/load.ts';
import { loadPipelineFolder, nodeFolderSource, type Variant } from '../engine/weights/diffusers.ts';
import { formatFlags, parseArgs, UsageError, type FlagSpecs } from './args.ts';
import { ACTIVATIONS_FLAG, activationDtype, fmtMs, formatPairs, median, say, testImage } from './bench_util.ts';
import type { DType } from '../engine/ops/ops.ts';

export const summary = "the tiny fixture model's edit end to end on the Node WebGPU adapter: ms total and per step";

export const flags = {
  model: { type: 'string', short: 'm', value: 'DIR', help: 'diffusers folder (default models/tiny-ip2p)' },
  size: { type: 'number', value: 'PX', help: 'image side (default 64)' },
  steps: { type: 'number', value: 'N', help: 'denoising steps, at least 2 (default 20)' },
  warmup: { type: 'number', value: 'N', help: 'untimed edits first (default 1: compiles every pipeline)' },
  runs: { type: 'number', value: 'N', help: 'timed edits; medians are reported (default 3)' },
  variant: { type: 'string', value: 'fp16|fp32|auto', help: 'weight files (default auto: fp16 where present)' },
  activations: ACTIVATIONS_FLAG,
  json: { type: 'boolean', help: 'print exactly one JSON object on stdout' },
} satisfies FlagSpecs;

export const usage = `usage: retouch bench --tiny-edit [OPTIONS]\n${summary}\n${formatFlags(flags)}`;

export interface TinyEditReport {
  model: string;
  adapter: string;
  activation_dtype: DType;
  size: number;
  steps: number;
  batch: number;
  warmup: number;
  runs: number;
  /** Reading the weights and building the three networks on the GPU. */
  load_ms: number;
  /** Medians over the timed edits. */
  total_ms: number;
  /** Median over steps 2..N of every timed edit (step 1 also carries the prompt and image encoding). */
  per_step_ms: number;
  /** From the start of the edit to the end of step 1: text encoder, VAE encode and the first step. */
  encode_and_first_step_ms: number;
  /** After the last step: VAE decode and reading the image back. */
  decode_ms: number;
  total_runs_ms: number[];
}

function count(v: number | undefined, flag: string, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) throw new UsageError(`--${flag} must be a whole number >= ${min}, got ${v}`);
  return v;
}

export async function run(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
  const model = f.model ?? 'models/tiny-ip2p';
  const size = count(f.size, 'size', 64, 8);
  const steps = count(f.steps, 'steps', 20, 2);
  const warmup = count(f.warmup, 'warmup', 1, 0);
  const runs = count(f.runs, 'runs', 3, 1);
  const variant = (f.variant ?? 'auto') as Variant;
  if (!['fp16', 'fp32', 'auto'].includes(variant)) throw new UsageError(`--variant must be fp16, fp32 or auto, got ${variant}`);
  if (!existsSync(model)) throw new Error(`model folder not found: ${model}`);

  const ctx = await acquireNodeDevice();
  const adapter = describeAdapter(ctx);
  try {
    const adt = activationDtype(f.activations, ctx);
    const be = new WebGpuBackend(ctx);
    be.rt.activationDtype = adt;
    // Step boundaries are GPU-complete: the pipeline flushes once per step, and here that flush also waits.
    const flush = be.flush.bind(be);
    be.flush = async () => {
      await flush();
      await ctx.device.queue.onSubmittedWorkDone();
    };
    say(`bench --tiny-edit: ${model} at ${size}x${size}, ${steps} steps, activations ${adt}, on ${adapter}`);
    const t0 = performance.now();
    const pipe = buildPipeline(be, await loadPipelineFolder(nodeFolderSource(model), { variant }));
    await be.flush();
    const load_ms = performance.now() - t0;
    const image = testImage(size);

    const edit = async () => {
      const marks: number[] = []; // [start, end of step 1, ..., end of step N]
      const start = performance.now();
      const res = await pipe.edit(
        image,
        { prompt: 'make the sky a sunset', steps, seed: 1, maxSize: size },
        { onProgress: (p) => p.stage === 'denoise' && marks.push(performance.now()) },
      );
      const end = performance.now();
      if (marks.length !== steps) throw new Error(`tiny edit: ${marks.length} step events for ${steps} steps`);
      if (res.image.width !== size || res.image.height !== size) throw new Error(`tiny edit: got a ${res.image.width}x${res.image.height} image`);
      const stepMs = marks.slice(1).map((t, i) => t - marks[i]);
      return { total: end - start, steps: stepMs, first: marks[0] - start, decode: end - marks[steps - 1] };
    };
    for (let i = 0; i < warmup; i++) {
      const r = await edit();
      say(`  warm-up ${i + 1}/${warmup}: ${fmtMs(r.total)} ms`);
    }
    const timed: Awaited<ReturnType<typeof edit>>[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await edit();
      timed.push(r);
      say(`  run ${i + 1}/${runs}: ${fmtMs(r.total)} ms (median step ${fmtMs(median(r.steps))} ms)`);
    }
    const report: TinyEditReport = {
      model,
      adapter,
      activation_dtype: adt,
      size,
      steps,
      batch: 3,
      warmup,
      runs,
      load_ms,
      total_ms: median(timed.map((r) => r.total)),
      per_step_ms: median(timed.flatMap((r) => r.steps)),
      encode_and_first_step_ms: median(timed.map((r) => r.first)),
      decode_ms: median(timed.map((r) => r.decode)),
      total_runs_ms: timed.map((r) => r.total),
    };
    process.stdout.write(
      f.json
        ? JSON.stringify(report) + '\n'
        : formatPairs([
            ['model', `${model}, ${size}x${size}, ${steps} steps, UNet batch 3`],
            ['adapter', adapter],
            ['activations', adt],
            ['timing', `median of ${runs} edits after ${warmup} warm-up; each step waits for the GPU`],
            ['load (weights + build)', `${fmtMs(load_ms)} ms`],
            ['edit total', `${fmtMs(report.total_ms)} ms`],
            ['per step (2..N)', `${fmtMs(report.per_step_ms)} ms`],
            ['encode + step 1', `${fmtMs(report.encode_and_first_step_ms)} ms`],
            ['decode + read', `${fmtMs(report.decode_ms)} ms`],
          ]),
    );
    return 0;
  } finally {
    ctx.device.destroy();
  }
}
