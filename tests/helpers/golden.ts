// Test support for the text encoder and the VAE: the fixture models' configs and weights (fp32 or fp16 files) and
// builders that check every weight of the file was used and none was missing.
import { readFileSync } from 'node:fs';
import type { Backend } from '../../src/engine/ops/ops.ts';
import { AutoencoderKL } from '../../src/engine/models/autoencoder_kl.ts';
import { parseClipTextConfig, parseVaeConfig } from '../../src/engine/models/configs.ts';
import { CLIPTextModel } from '../../src/engine/models/modeling_clip.ts';
import { HostWeightSource, loadTensorFile, nodeFolderSource } from '../../src/engine/weights/diffusers.ts';
import { VarBuilder } from '../../src/engine/weights/var_builder.ts';

export const TINY_DIR = 'models/tiny-ip2p';
export const REAL_DIR = 'models/instruct-pix2pix';
export type Variant = 'fp32' | 'fp16';

export function readConfig(dir: string, component: string, file = 'config.json'): unknown {
  return JSON.parse(readFileSync(`${dir}/${component}/${file}`, 'utf8'));
}

const cache = new Map<string, Promise<HostWeightSource>>();

function weights(path: string): Promise<HostWeightSource> {
  let p = cache.get(path);
  if (!p) {
    p = loadTensorFile(nodeFolderSource(TINY_DIR), path);
    cache.set(path, p);
  }
  return p;
}

const suffix = (v: Variant) => (v === 'fp16' ? '.fp16' : '');

/** The tiny text encoder on `be`; throws (VarBuilder.finish) on any missing, misshaped or unused weight. */
export async function buildTinyClip(be: Backend, variant: Variant): Promise<CLIPTextModel> {
  const vb = VarBuilder.from(be, await weights(`text_encoder/model${suffix(variant)}.safetensors`));
  const model = new CLIPTextModel(vb, parseClipTextConfig(readConfig(TINY_DIR, 'text_encoder')));
  vb.finish();
  return model;
}

/** The tiny VAE on `be`; throws on any missing, misshaped or unused weight. */
export async function buildTinyVae(be: Backend, variant: Variant): Promise<AutoencoderKL> {
  const vb = VarBuilder.from(be, await weights(`vae/diffusion_pytorch_model${suffix(variant)}.safetensors`));
  const model = new AutoencoderKL(vb, parseVaeConfig(readConfig(TINY_DIR, 'vae')));
  vb.finish();
  return model;
}
