// `retouch edit`: one InstructPix2Pix edit of a PNG/JPEG file into a PNG with its parameters as text chunks, on the
// WebGPU backend (Dawn in Node) or the CPU reference. Every argument and input file is checked before the weights
// are read, so a typo costs a second, not a model load.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describeAdapter } from '../engine/gpu/device.ts';
import { acquireNodeDevice } from '../engine/gpu/node.ts';
import { targetSize } from '../engine/image/resize.ts';
import { CpuBackend } from '../engine/ops/cpu/backend.ts';
import type { Backend } from '../engine/ops/ops.ts';
import { WebGpuBackend } from '../engine/ops/webgpu/backend.ts';
import { buildPipeline } from '../engine/pipelines/load.ts';
import { EditCancelled, type DumpDType, type NoiseSource } from '../engine/pipelines/pipeline_instruct_pix2pix.ts';
import { recordedNoise } from '../engine/pipelines/recorded_noise.ts';
import { createScheduler, isSchedulerName, SCHEDULERS, type SchedulerConfigJson } from '../engine/schedulers/index.ts';
import { loadPipelineFolder, nodeFolderSource, openPipelineFolder, type Variant } from '../engine/weights/diffusers.ts';
import { SafetensorsFile, writeSafetensors, type HostArray, type StDType } from '../engine/weights/safetensors.ts';
import { formatFlags, parseArgs, required, UsageError, type FlagSpecs } from './args.ts';
import { readImageFile, writePngFile } from './image_io.ts';
import { formatDuration, Progress } from './progress.ts';

const FLAGS = {
  model: { type: 'string', short: 'm', value: 'DIR', help: 'diffusers InstructPix2Pix folder' },
  image: { type: 'string', short: 'i', value: 'FILE', help: 'the photo to edit (PNG or JPEG)' },
  prompt: { type: 'string', short: 'p', value: 'TEXT', help: 'the instruction, e.g. "make the sky a sunset"' },
  out: { type: 'string', short: 'o', value: 'FILE', help: 'where to write the edited PNG' },
  'negative-prompt': { type: 'string', value: 'TEXT', help: 'what to steer away from (default "")' },
  steps: { type: 'number', value: 'N', help: 'denoising steps (default 20)' },
  'text-guidance': { type: 'number', value: 'X', help: 'how strongly to follow the instruction (default 7.5)' },
  'image-guidance': { type: 'number', value: 'X', help: 'how closely to keep the photo (default 1.5)' },
  seed: { type: 'number', value: 'N', help: 'noise seed, a whole number >= 0 (default 0)' },
  scheduler: { type: 'string', value: 'NAME', help: `${SCHEDULERS.join('|')} (default euler-ancestral)` },
  'max-size': { type: 'number', value: 'PX', help: 'longest side the photo is scaled down to (default 512)' },
  variant: { type: 'string', value: 'fp16|fp32|auto', help: 'weight files to load (default auto: fp16 where present)' },
  backend: { type: 'string', value: 'webgpu|cpu', help: 'where to compute (default webgpu; cpu is the slow reference)' },
  activations: {
    type: 'string',
    value: 'f32|f16|auto',
    help: 'activation storage on webgpu (default f32; f16 needs shader-f16, auto picks f16 where present)',
  },
  noise: { type: 'string', value: 'FILE', help: 'replay recorded noise: safetensors with latents_noise and step{i}.noise' },
  'noise-prefix': { type: 'string', value: 'PREFIX', help: 'key prefix inside --noise, e.g. "run1."' },
  dump: { type: 'string', value: 'DIR', help: 'also write DIR/pipeline.safetensors with the intermediate tensors' },
  force: { type: 'boolean', short: 'f', help: 'overwrite --out (and the --dump file) if they exist' },
} satisfies FlagSpecs;

export const usage = `usage: retouch edit --model DIR --image FILE --prompt TEXT --out FILE.png [options]
Edits the photo as the instruction says and writes a PNG carrying the parameters (prompt, seed, ...) as text.
Photos larger than --max-size are scaled down (aspect kept), then both sides are rounded down to multiples of 8.
${formatFlags(FLAGS)}`;

interface EditArgs {
  model: string;
  image: string;
  prompt: string;
  out: string;
  negativePrompt: string;
  steps: number;
  guidanceScale: number;
  imageGuidanceScale: number;
  seed: number;
  scheduler: (typeof SCHEDULERS)[number];
  maxSize: number;
  variant: Variant;
  backend: 'webgpu' | 'cpu';
  activations: 'f32' | 'f16' | 'auto';
  noise?: string;
  noisePrefix: string;
  dump?: string;
  force: boolean;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string, fallback: T): T {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function wholeNumber(value: number | undefined, flag: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ' up'}, got ${value}`);
  }
  return value;
}

function guidance(value: number | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (value < 0) throw new UsageError(`--${flag} must be 0 or more, got ${value}`);
  return value;
}

export function parseEditArgs(argv: string[]): EditArgs {
  const { flags, positional } = parseArgs(argv, FLAGS);
  if (positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])} (the instruction goes after --prompt)`);
  const scheduler = flags.scheduler ?? 'euler-ancestral';
  if (!isSchedulerName(scheduler)) throw new UsageError(`unknown scheduler ${JSON.stringify(scheduler)} (one of ${SCHEDULERS.join(', ')})`);
  if (flags['noise-prefix'] !== undefined && flags.noise === undefined) throw new UsageError('--noise-prefix needs --noise');
  return {
    model: required(flags.model, 'model'),
    image: required(flags.image, 'image'),
    prompt: required(flags.prompt, 'prompt'),
    out: required(flags.out, 'out'),
    negativePrompt: flags['negative-prompt'] ?? '',
    steps: wholeNumber(flags.steps, 'steps', 20, 1, 1000),
    guidanceScale: guidance(flags['text-guidance'], 'text-guidance', 7.5),
    imageGuidanceScale: guidance(flags['image-guidance'], 'image-guidance', 1.5),
    seed: wholeNumber(flags.seed, 'seed', 0, 0),
    scheduler,
    maxSize: wholeNumber(flags['max-size'], 'max-size', 512, 8),
    variant: oneOf(flags.variant, ['fp16', 'fp32', 'auto'] as const, 'variant', 'auto'),
    backend: oneOf(flags.backend, ['webgpu', 'cpu'] as const, 'backend', 'webgpu'),
    activations: oneOf(flags.activations, ['f32', 'f16', 'auto'] as const, 'activations', 'f32'),
    noise: flags.noise,
    noisePrefix: flags['noise-prefix'] ?? '',
    dump: flags.dump,
    force: flags.force,
  };
}

/** A path we are about to write: its folder must exist, and the file must not unless --force. */
function checkWritable(path: string, force: boolean, what: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`folder of ${what} does not exist: ${dirname(path)}`);
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) throw new Error(`${what} ${path} is a folder`);
    if (!force) throw new Error(`${path} already exists (pass --force to overwrite it)`);
  }
}

/** Recorded noise, checked up front against the run: the key prefix, the step count and the latent shape. */
async function openNoise(path: string, steps: number, prefix: string, latentShape: number[]): Promise<NoiseSource> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `noise file not found: ${path}` : `cannot read noise file ${path} (${code ?? (e as Error).message})`);
  }
  const file = SafetensorsFile.fromArrayBuffer(bytes, path);
  const key = `${prefix}latents_noise`;
  if (!file.has(key)) {
    const prefixes = file.keys().filter((k) => k.endsWith('latents_noise')).map((k) => JSON.stringify(k.slice(0, -'latents_noise'.length)));
    const hint = prefixes.length ? `; it has ${prefixes.join(', ')} (pass --noise-prefix)` : '';
    throw new Error(`${path}: no ${key} tensor${hint}`);
  }
  let have = 0;
  while (file.has(`${prefix}step${have}.noise`)) have++;
  if (have < steps) throw new Error(`${path}: recorded noise for ${have} steps (${prefix}step{i}.noise), the run has ${steps} (--steps)`);
  const shape = file.info(key).shape;
  if (shape.join(',') !== latentShape.join(',')) {
    throw new Error(`${path}: ${key} is [${shape.join(', ')}], this image needs [${latentShape.join(', ')}]`);
  }
  return recordedNoise(file, steps, prefix);
}

async function makeBackend(kind: 'webgpu' | 'cpu', activations: 'f32' | 'f16' | 'auto', progress: Progress): Promise<Backend> {
  if (kind === 'cpu') {
    progress.note('backend cpu (the reference: slow)');
    return new CpuBackend();
  }
  const ctx = await acquireNodeDevice();
  const be = new WebGpuBackend(ctx);
  const dtype = activations === 'auto' ? (ctx.features.shaderF16 ? 'f16' : 'f32') : activations;
  if (dtype === 'f16' && !ctx.features.shaderF16) {
    throw new UsageError(`--activations f16 needs an adapter with shader-f16; this one has none (${describeAdapter(ctx)})`);
  }
  be.rt.activationDtype = dtype;
  progress.note(`backend webgpu (${dtype} activations): ${describeAdapter(ctx)}`);
  return be;
}

export async function runEdit(argv: string[]): Promise<number> {
  const a = parseEditArgs(argv);
  const t0 = performance.now();
  // 1. everything that can be wrong with the arguments and files, before any heavy work
  checkWritable(a.out, a.force, '--out');
  const dumpFile = a.dump === undefined ? undefined : join(a.dump, 'pipeline.safetensors');
  if (a.dump !== undefined && existsSync(a.dump) && !statSync(a.dump).isDirectory()) throw new Error(`--dump ${a.dump} is a file, not a folder`);
  if (dumpFile && existsSync(a.dump!)) checkWritable(dumpFile, a.force, '--dump file');
  const { image: input } = readImageFile(a.image);
  const size = targetSize(input.width, input.height, a.maxSize);
  if (!existsSync(a.model) || !statSync(a.model).isDirectory()) throw new Error(`model folder not found: ${a.model}`);
  const source = nodeFolderSource(a.model);
  const info = await openPipelineFolder(source, { variant: a.variant });
  createScheduler(a.scheduler, info.configs.scheduler as SchedulerConfigJson).setTimesteps(a.steps);
  const vae = info.configs.vae as { latent_channels?: number; block_out_channels?: number[] };
  const down = 2 ** ((vae.block_out_channels?.length ?? 4) - 1); // every VAE block but the last halves the size
  const latentShape = [1, vae.latent_channels ?? 4, size.height / down, size.width / down];
  const noise = a.noise === undefined ? undefined : await openNoise(a.noise, a.steps, a.noisePrefix, latentShape);
  if (a.dump !== undefined) mkdirSync(a.dump, { recursive: true });

  // 2. device, weights, networks
  const progress = new Progress();
  const be = await makeBackend(a.backend, a.activations, progress);
  progress.begin('loading weights');
  const folder = await loadPipelineFolder(source, {
    variant: a.variant,
    onProgress: (p) => progress.update(p.loadedBytes, p.totalBytes, 'bytes'),
  });
  const totalBytes = folder.files.reduce((n, f) => n + f.bytes, 0);
  progress.update(totalBytes, totalBytes, 'bytes');
  progress.end();
  const pipe = buildPipeline(be, folder);

  // 3. the edit; Ctrl-C stops it between steps
  const dumped: Record<string, { dtype: StDType; shape: number[]; data: HostArray }> = {};
  const dump = (name: string, data: Float32Array | Int32Array | Uint8Array, shape: number[], dtype: DumpDType) => {
    dumped[name] = { dtype, shape: [...shape], data: data.slice() };
  };
  const abort = new AbortController();
  const onInterrupt = () => abort.abort();
  process.once('SIGINT', onInterrupt);
  let result;
  try {
    result = await pipe.edit(
      input,
      {
        prompt: a.prompt,
        negativePrompt: a.negativePrompt,
        steps: a.steps,
        guidanceScale: a.guidanceScale,
        imageGuidanceScale: a.imageGuidanceScale,
        seed: a.seed,
        scheduler: a.scheduler,
        maxSize: a.maxSize,
        noise,
      },
      {
        signal: abort.signal,
        dump: dumpFile ? dump : undefined,
        onProgress: (p) => {
          if (p.stage === 'encode') progress.begin(`editing ${size.width}x${size.height}`);
          if (p.stage !== 'decode') progress.update(p.step, p.steps);
          else progress.end();
        },
      },
    );
  } catch (e) {
    progress.end();
    if (e instanceof EditCancelled) {
      process.stderr.write('retouch: edit cancelled\n');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onInterrupt);
  }

  // 4. the PNG, with what made it
  const text: Record<string, string> = {
    prompt: a.prompt,
    negative_prompt: a.negativePrompt,
    seed: String(a.seed),
    steps: String(a.steps),
    text_guidance: String(a.guidanceScale),
    image_guidance: String(a.imageGuidanceScale),
    scheduler: a.scheduler,
    model: a.model,
    Software: 'Retouch',
  };
  if (a.noise !== undefined) text.noise = a.noisePrefix ? `${a.noise} (${a.noisePrefix})` : a.noise;
  writePngFile(a.out, result.image, text, a.force);
  progress.note(`done in ${formatDuration(performance.now() - t0)}`);
  const { width, height } = result.image;
  const note = result.scaled
    ? ` (the ${input.width}x${input.height} input was scaled down by the size rule: longest side <= ${a.maxSize}, sides multiples of 8)`
    : '';
  process.stdout.write(`wrote ${a.out} (${width}x${height})${note}\n`);
  if (dumpFile) {
    writeFileSync(dumpFile, writeSafetensors(dumped, text), { flag: a.force ? 'w' : 'wx' });
    process.stdout.write(`dumped ${Object.keys(dumped).length} tensors to ${dumpFile}\n`);
  }
  return 0;
}
