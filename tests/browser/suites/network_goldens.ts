// Suite: the tiny model's networks (CLIP text encoder, VAE, UNet) on Chromium's WebGPU against the diffusers/
// transformers goldens, all files fetched over HTTP (model from the app's /models/ route, goldens from a test-only
// URL). Returns max|d|, std and bar per golden tensor; the Node test asserts them.
import { acquireDevice, describeAdapter } from '../../../src/engine/gpu/device.ts';
import { AutoencoderKL } from '../../../src/engine/models/autoencoder_kl.ts';
import { parseClipTextConfig, parseUNetConfig, parseVaeConfig } from '../../../src/engine/models/configs.ts';
import { CLIPTextModel } from '../../../src/engine/models/modeling_clip.ts';
import { UNet2DConditionModel } from '../../../src/engine/models/unet_2d_condition.ts';
import type { Backend, Tensor } from '../../../src/engine/ops/ops.ts';
import { WebGpuBackend } from '../../../src/engine/ops/webgpu/backend.ts';
import { loadTensorFile, urlSource, type FileSource } from '../../../src/engine/weights/diffusers.ts';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';
import { VarBuilder } from '../../../src/engine/weights/var_builder.ts';
import { goldenErr, type GoldenErr } from '../../helpers/errors.ts';
import { realm } from './context.ts';

export type NetworkPart = 'clip' | 'vae' | 'unet' | 'unet_fp16w';
export interface NetworkArgs {
  /** URL of the model folder, e.g. /models/tiny-ip2p */
  modelUrl: string;
  /** URL of the golden folder (not served by the app: a test-only URL) */
  goldenUrl: string;
  parts: NetworkPart[];
}

const REL = 1e-3;

async function build<T>(be: Backend, src: FileSource, dir: string, file: string, make: (vb: VarBuilder, cfg: unknown) => T): Promise<T> {
  const vb = VarBuilder.from(be, await loadTensorFile(src, `${dir}/${file}`));
  const model = make(vb, JSON.parse(await src.readText(`${dir}/config.json`)));
  vb.finish(); // throws on any missing, misshaped or unused weight
  return model;
}

async function readAndRelease(be: Backend, t: Tensor): Promise<Float32Array> {
  const v = await be.read(t);
  be.release(t);
  return v;
}

export default async function networkGoldens(args: unknown) {
  const { modelUrl, goldenUrl, parts } = args as NetworkArgs;
  const origin = globalThis.location.origin;
  const src = urlSource(origin + modelUrl);
  const golden = (name: string) => SafetensorsFile.fromUrl(`${origin}${goldenUrl}/${name}`);
  const ctx = await acquireDevice();
  const errs: GoldenErr[] = [];
  const ms: Record<string, number> = {};
  try {
    const be = new WebGpuBackend(ctx);
    const input = async (f: SafetensorsFile, key: string) => be.fromArray(await f.readF32(key), f.info(key).shape);
    const check = async (f: SafetensorsFile, key: string, t: Tensor, release = true) => {
      const shape = f.info(key).shape;
      if (t.shape.join() !== shape.join()) throw new Error(`${key}: shape [${t.shape}] vs golden [${shape}]`);
      const ours = release ? await readAndRelease(be, t) : await be.read(t);
      errs.push(goldenErr(key, ours, await f.readF32(key), REL));
    };
    for (const part of parts) {
      const t0 = performance.now();
      if (part === 'clip') {
        const f = await golden('text.safetensors');
        const clip = await build(be, src, 'text_encoder', 'model.safetensors', (vb, c) => new CLIPTextModel(vb, parseClipTextConfig(c)));
        const ids = await f.read('text_encoder.input_ids');
        if (ids.dtype !== 'I32') throw new Error(`input_ids is ${ids.dtype}`);
        const [batch] = ids.shape;
        const out = clip.forward(ids.data as Int32Array, batch);
        await check(f, 'text_encoder.last_hidden_state', out.lastHiddenState);
      } else if (part === 'vae') {
        const f = await golden('vae.safetensors');
        const vae = await build(be, src, 'vae', 'diffusion_pytorch_model.safetensors', (vb, c) => new AutoencoderKL(vb, parseVaeConfig(c)));
        const x = await input(f, 'vae.input');
        const dist = vae.encode(x);
        await check(f, 'vae.enc.mode', dist.mode(), false);
        dist.release();
        be.release(x);
        const z = await input(f, 'vae.dec.input_latent');
        await check(f, 'vae.dec.output', vae.decode(z));
        be.release(z);
      } else {
        const fp16 = part === 'unet_fp16w';
        const f = await golden('unet.safetensors');
        const file = `diffusion_pytorch_model${fp16 ? '.fp16' : ''}.safetensors`;
        const unet = await build(be, src, 'unet', file, (vb, c) => new UNet2DConditionModel(vb, parseUNetConfig(c)));
        if (fp16 && unet.conv_in.weight.dtype !== 'f16') throw new Error('fp16 file: conv_in weight is not stored as f16');
        const sample = await input(f, 'unet.sample');
        const ehs = await input(f, 'unet.encoder_hidden_states');
        for (const k of fp16 ? ['t0'] : ['t0', 't1', 't2']) {
          const ts = await f.readF32(`unet.${k}.timestep`);
          if (ts.length !== 1) throw new Error(`unet.${k}.timestep has ${ts.length} values`);
          await check(f, `unet.${k}.noise_pred${fp16 ? '_fp16w' : ''}`, unet.forward(sample, ts, ehs));
        }
        be.release(sample);
        be.release(ehs);
        if (!fp16) {
          const s3 = await input(f, 'unet.batch3.sample');
          const e3 = await input(f, 'unet.batch3.encoder_hidden_states');
          await check(f, 'unet.batch3.noise_pred', unet.forward(s3, await f.readF32('unet.batch3.timestep'), e3));
          be.release(s3);
          be.release(e3);
        }
      }
      ms[part] = performance.now() - t0;
    }
    return { realm: realm(), adapter: describeAdapter(ctx), errs, ms };
  } finally {
    ctx.device.destroy();
  }
}
