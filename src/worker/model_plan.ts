// Decides, from the weight files' headers alone (nothing downloaded but configs and headers), which weight files
// to read and how the weights sit on the GPU, and whether this adapter can hold them: the largest tensor against
// one storage binding, the total against a memory budget. Preference: fp32 files as f32, then fp16 files, then
// fp32 files converted to f16 on load ("f16 when the adapter lacks memory for f32").
import { COMPONENTS, openWeightFiles, type Component, type Variant } from '../engine/weights/diffusers.ts';
import type { FileSource } from '../engine/weights/sources.ts';
import type { SafetensorsFile } from '../engine/weights/safetensors.ts';
import { formatBytes } from '../engine/weights/cache.ts';

/** WebGPU reports no memory size. 3 GiB holds the real model's 2.13 GB of fp16 weights with room for the 512x512
 * activations on a 4 GB GPU, and rules out its 4.27 GB of fp32 weights. */
export const DEFAULT_WEIGHT_BUDGET = 3 * 2 ** 30;

export interface AdapterLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface WeightOption {
  variant: 'fp16' | 'fp32';
  dtype: 'f16' | 'f32';
  /** Weight files of this variant, in COMPONENTS order. */
  files: { component: Component; path: string; bytes: number }[];
  /** Bytes of float weights on the GPU in `dtype` (integer tensors are not uploaded). */
  gpuBytes: number;
  largest: { name: string; bytes: number };
  fits: boolean;
  /** Why it does not fit. */
  needs?: string;
}

interface FileStats {
  component: Component;
  path: string;
  bytes: number;
  /** Float elements by element size as stored (BF16 is widened to f32 on load, so it counts as 4). */
  floats: { name: string; elems: number; storedBytes: number }[];
}

function stats(component: Component, path: string, file: SafetensorsFile): FileStats {
  const floats: FileStats['floats'] = [];
  for (const name of file.keys()) {
    const t = file.info(name);
    if (t.dtype !== 'F32' && t.dtype !== 'F16' && t.dtype !== 'BF16') continue;
    const elems = t.shape.reduce((a, b) => a * b, 1);
    floats.push({ name: `${component}/${name}`, elems, storedBytes: elems * (t.dtype === 'F16' ? 2 : 4) });
  }
  return { component, path, bytes: file.byteLength, floats };
}

function option(variant: 'fp16' | 'fp32', toF16: boolean, files: FileStats[], limits: AdapterLimits, budget: number): WeightOption {
  let gpuBytes = 0;
  let largest = { name: '', bytes: 0 };
  for (const f of files) {
    for (const t of f.floats) {
      const bytes = toF16 ? t.elems * 2 : t.storedBytes;
      gpuBytes += bytes;
      if (bytes > largest.bytes) largest = { name: t.name, bytes };
    }
  }
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const problems: string[] = [];
  if (largest.bytes > binding) {
    problems.push(
      `a GPU buffer of ${formatBytes(largest.bytes)} for ${largest.name} (this adapter binds at most ${formatBytes(binding)})`,
    );
  }
  if (gpuBytes > budget) problems.push(`${formatBytes(gpuBytes)} of GPU memory for weights (the budget is ${formatBytes(budget)})`);
  const dtype = toF16 || variant === 'fp16' ? 'f16' : 'f32';
  return {
    variant,
    dtype,
    files: files.map((f) => ({ component: f.component, path: f.path, bytes: f.bytes })),
    gpuBytes,
    largest,
    fits: problems.length === 0,
    needs: problems.length ? `${variant} weights as ${dtype} need ${problems.join(' and ')}` : undefined,
  };
}

async function openStats(source: FileSource, variant: 'fp16' | 'fp32'): Promise<FileStats[] | null> {
  let opened;
  try {
    opened = await openWeightFiles(source, variant);
  } catch (e) {
    if ((e as Error).name === 'LoadError') return null; // this variant's files are not there
    throw e;
  }
  return COMPONENTS.map((c) => stats(c, opened.files.find((f) => f.component === c)!.path, opened.weightFiles[c]));
}

/** The options for the asked variant in order of preference; the first that fits is the one to load. Throws the
 * loader's own error when no weight files of that variant exist. */
export async function weightOptions(source: FileSource, variant: Variant, limits: AdapterLimits, budget = DEFAULT_WEIGHT_BUDGET): Promise<WeightOption[]> {
  const fp32 = variant === 'fp16' ? null : await openStats(source, 'fp32');
  const fp16 = variant === 'fp32' ? null : await openStats(source, 'fp16');
  if (!fp32 && !fp16) {
    // Let the loader say what is missing, with its hints (.bin files, the other variant).
    await openWeightFiles(source, variant);
    throw new Error(`${source.name}: no weight files for variant ${variant}`);
  }
  const out: WeightOption[] = [];
  if (fp32) out.push(option('fp32', false, fp32, limits, budget));
  if (fp16) out.push(option('fp16', false, fp16, limits, budget));
  if (fp32) out.push(option('fp32', true, fp32, limits, budget));
  return out;
}

/** The first option that fits, else the smallest (which then says what it needs). */
export function chooseOption(options: WeightOption[]): WeightOption {
  return options.find((o) => o.fits) ?? [...options].sort((a, b) => a.gpuBytes - b.gpuBytes)[0];
}

/**
 * Elements of the largest VAE activation for an H x W image (the VAE's activations dwarf the UNet's): the encoder's
 * down blocks at H/2^i with block_out_channels[i], and the decoder's up blocks whose (fused) upsampling conv writes
 * the reversed channels at twice their input resolution; for SD that is 256 x 512 x 512 at 512x512.
 */
export function largestVaeActivation(blockOutChannels: readonly number[], height: number, width: number): number {
  const n = blockOutChannels.length;
  let most = 0;
  for (let i = 0; i < n; i++) most = Math.max(most, blockOutChannels[i] * Math.ceil(height / 2 ** i) * Math.ceil(width / 2 ** i));
  for (let i = 0; i < n - 1; i++) {
    const f = 2 ** (n - 2 - i);
    most = Math.max(most, blockOutChannels[n - 1 - i] * Math.ceil(height / f) * Math.ceil(width / f));
  }
  return most;
}

/**
 * The largest max-size (a multiple of 8, at most `maxSize`) whose image keeps every VAE activation within one storage
 * binding: adapters that grant only the default 128 MiB binding run 512x512 with f16 activations, and smaller
 * images with f32 ones, instead of failing inside the decoder.
 */
export function maxSizeForBinding(
  blockOutChannels: readonly number[],
  width: number,
  height: number,
  maxSize: number,
  bindingBytes: number,
  bytesPerElement: number,
): number {
  for (let s = maxSize; s >= 8; s -= s % 8 || 8) {
    const scale = Math.min(1, s / Math.max(width, height));
    const h = Math.max(8, Math.floor((height * scale) / 8) * 8);
    const w = Math.max(8, Math.floor((width * scale) / 8) * 8);
    if (largestVaeActivation(blockOutChannels, h, w) * bytesPerElement <= bindingBytes) return s;
  }
  return 8;
}
