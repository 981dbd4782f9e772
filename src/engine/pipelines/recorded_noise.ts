// Replays recorded noise (a golden run, or `--noise FILE`): `latents_noise` [1,4,h,w] and `step{i}.noise` for
// each step, optionally under a key prefix such as "run1.".
import type { SafetensorsFile } from '../weights/safetensors.ts';
import type { NoiseSource } from './pipeline_instruct_pix2pix.ts';
import { shapeStr } from '../ops/ops.ts';

export async function recordedNoise(file: SafetensorsFile, steps: number, prefix = ''): Promise<NoiseSource> {
  const need = [`${prefix}latents_noise`, ...Array.from({ length: steps }, (_, i) => `${prefix}step${i}.noise`)];
  const missing = need.filter((k) => !file.has(k));
  if (missing.length) {
    throw new Error(`${file.fileName}: noise file lacks ${missing.join(', ')} (needs latents_noise and step0..step${steps - 1}.noise)`);
  }
  const data = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const k of need) data.set(k, { shape: file.info(k).shape, values: await file.readF32(k) });
  const get = (key: string, shape: readonly number[]) => {
    const d = data.get(key)!;
    if (shapeStr(d.shape) !== shapeStr(shape)) {
      throw new Error(`${file.fileName}: ${key} is ${shapeStr(d.shape)}, the run needs ${shapeStr(shape)}`);
    }
    return d.values.slice();
  };
  return {
    latents: (shape) => get(`${prefix}latents_noise`, shape),
    step: (i, shape) => get(`${prefix}step${i}.noise`, shape),
  };
}
