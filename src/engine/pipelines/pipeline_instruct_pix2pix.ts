// StableDiffusionInstructPix2PixPipeline, step for step as diffusers 0.30 (see ../shared/fixtures/GOLDEN.md):
// encodePrompt -> prepareImageLatents -> the denoising loop on a batch of 3 [text+image, image only, unconditional]
// with dual classifier-free guidance -> decodeLatents. Everything runs on one Backend; the host only supplies noise
// and scalars, and reads back the final image (plus the optional per-step preview).
import type { CLIPTextModel } from '../models/modeling_clip.ts';
import type { AutoencoderKL } from '../models/autoencoder_kl.ts';
import type { UNet2DConditionModel } from '../models/unet_2d_condition.ts';
import type { Backend, Tensor } from '../ops/ops.ts';
import { numel } from '../ops/ops.ts';
import type { ClipTokenizer } from '../tokenizer/clip_tokenizer.ts';
import { createScheduler, type SchedulerConfigJson, type SchedulerName } from '../schedulers/index.ts';
import { gaussian } from '../random/gaussian.ts';
import { prepareImage, type RgbImage } from '../image/resize.ts';
import { latentsToPreview } from './preview.ts';

/** Where the Gaussian noise comes from: the seeded generator, or recorded tensors (golden replay). */
export interface NoiseSource {
  /** N(0, 1) initial latents [1, 4, h, w] (before init_noise_sigma). */
  latents(shape: readonly number[]): Float32Array;
  /** The noise the scheduler adds at step i. */
  step(i: number, shape: readonly number[]): Float32Array;
}

/** The documented generator (src/engine/random/gaussian.ts): stream 0 for the latents, stream i+1 for step i. */
export function seededNoise(seed: number): NoiseSource {
  return {
    latents: (shape) => gaussian(numel(shape), seed, 0),
    step: (i, shape) => gaussian(numel(shape), seed, i + 1),
  };
}

export interface EditRequest {
  prompt: string;
  negativePrompt?: string | null;
  steps?: number; // 20
  /** Text guidance: diffusers' guidance_scale. */
  guidanceScale?: number; // 7.5
  /** Image guidance: diffusers' image_guidance_scale. */
  imageGuidanceScale?: number; // 1.5
  seed?: number; // 0
  scheduler?: SchedulerName; // euler-ancestral
  /** Longest side after scaling down (then both sides are rounded down to multiples of 8). */
  maxSize?: number; // 512
  /** Overrides the seeded generator (replays recorded noise). */
  noise?: NoiseSource;
}

export type DumpDType = 'F32' | 'I32' | 'U8';
export interface EditHooks {
  onProgress?: (p: { stage: 'encode' | 'denoise' | 'decode'; step: number; steps: number }) => void;
  /** Called after each step with a cheap RGB preview of the current latents (latent resolution). */
  onPreview?: (img: RgbImage, step: number) => void;
  signal?: AbortSignal;
  /** Receives intermediates named as in the golden runs (for --dump). */
  dump?: (name: string, data: Float32Array | Int32Array | Uint8Array, shape: number[], dtype: DumpDType) => void;
}

export interface EditResult {
  image: RgbImage;
  /** The image the model saw (after the size rule). */
  input: RgbImage;
  scaled: boolean;
  params: Required<Omit<EditRequest, 'noise' | 'negativePrompt'>> & { negativePrompt: string };
}

export class EditCancelled extends Error {
  override name = 'AbortError';
  constructor() {
    super('edit cancelled');
  }
}

export interface PipelineParts {
  tokenizer: ClipTokenizer;
  textEncoder: CLIPTextModel;
  vae: AutoencoderKL;
  unet: UNet2DConditionModel;
  schedulerConfig: SchedulerConfigJson;
  /** The VAE's scaling_factor (0.18215 for SD 1.x). */
  scalingFactor: number;
}

export class InstructPix2PixPipeline {
  constructor(
    readonly be: Backend,
    readonly parts: PipelineParts,
  ) {}

  private async dumpTensor(hooks: EditHooks, name: string, t: Tensor): Promise<void> {
    if (hooks.dump) hooks.dump(name, await this.be.read(t), [...t.shape], 'F32');
  }

  /** 1. [text, uncond, uncond] embeddings ([text] alone without guidance). */
  async encodePrompt(prompt: string, negative: string, cfg: boolean, hooks: EditHooks): Promise<Tensor> {
    const { tokenizer, textEncoder } = this.parts;
    const be = this.be;
    const ids = new Int32Array(2 * 77);
    ids.set(tokenizer.encode(prompt), 0);
    ids.set(tokenizer.encode(negative), 77);
    hooks.dump?.('input_ids', ids, [2, 77], 'I32');
    const out = textEncoder.forward(cfg ? ids : ids.subarray(0, 77), cfg ? 2 : 1);
    const all = out.lastHiddenState; // [2|1, 77, D]
    if (!cfg) return all;
    const text = be.slice(all, 0, 0, 1);
    const uncond = be.slice(all, 0, 1, 2);
    const embeds = be.concat([text, uncond, uncond], 0); // [3, 77, D]
    for (const t of [all, text, uncond]) be.release(t);
    return embeds;
  }

  /** 2. VAE mode of the image, unscaled: [img, img, zeros] ([img] alone without guidance). */
  prepareImageLatents(image: RgbImage, cfg: boolean): Tensor {
    const be = this.be;
    const x = be.imageToTensor(image.data, image.height, image.width); // [1,3,H,W]
    const dist = this.parts.vae.encode(x);
    be.release(x);
    const mean = be.scale(dist.mode(), 1); // [1,4,h,w], a copy that outlives the distribution
    dist.release?.();
    if (!cfg) return mean;
    const zeros = be.fromArray(new Float32Array(numel(mean.shape)), mean.shape);
    const out = be.concat([mean, mean, zeros], 0); // [3,4,h,w]
    be.release(mean);
    be.release(zeros);
    return out;
  }

  async edit(input: RgbImage, req: EditRequest, hooks: EditHooks = {}): Promise<EditResult> {
    const be = this.be;
    const p = {
      prompt: req.prompt,
      negativePrompt: req.negativePrompt ?? '',
      steps: req.steps ?? 20,
      guidanceScale: req.guidanceScale ?? 7.5,
      imageGuidanceScale: req.imageGuidanceScale ?? 1.5,
      seed: req.seed ?? 0,
      scheduler: req.scheduler ?? 'euler-ancestral',
      maxSize: req.maxSize ?? 512,
    };
    const check = () => {
      if (hooks.signal?.aborted) throw new EditCancelled();
    };
    const noise = req.noise ?? seededNoise(p.seed);
    const scheduler = createScheduler(p.scheduler, this.parts.schedulerConfig);
    scheduler.setTimesteps(p.steps);
    // diffusers: guidance only when guidance_scale > 1 and image_guidance_scale >= 1
    const cfg = p.guidanceScale > 1 && p.imageGuidanceScale >= 1;
    const batch = cfg ? 3 : 1;
    const { image, scaled } = prepareImage(input, p.maxSize);
    hooks.onProgress?.({ stage: 'encode', step: 0, steps: p.steps });
    await be.releaseCached?.(); // each edit (and each stage below) starts with nothing cached beside the weights

    // 1-2. conditioning
    const embeds = await this.encodePrompt(p.prompt, p.negativePrompt, cfg, hooks); // [B,77,D]
    await this.dumpTensor(hooks, 'prompt_embeds', embeds);
    const imageLatents = this.prepareImageLatents(image, cfg); // [B,4,h,w]
    await this.dumpTensor(hooks, 'image_latents', imageLatents);
    check();
    await be.releaseCached?.();

    // 3. initial latents = N(0,1) * init_noise_sigma
    const [, lc, h, w] = imageLatents.shape;
    const shape = [1, lc, h, w];
    const sigma0 = scheduler.initNoiseSigma;
    let latents = be.fromArray(noise.latents(shape).map((v) => Math.fround(v * sigma0)), shape);
    await this.dumpTensor(hooks, 'latents_init', latents);

    // 4. denoising loop (the text's cross-attention K and V computed on the first step, kept for the rest)
    this.parts.unet.cacheCrossAttention(true);
    try {
      for (let i = 0; i < p.steps; i++) {
        check();
        const t = scheduler.timesteps[i];
        // 4a. scale_model_input on the latent copies (the image latents are never scaled), then concat channels
        const scaledLatents = be.scale(latents, scheduler.inputScale(i)); // [1,4,h,w]
        const copies = cfg ? be.concat([scaledLatents, scaledLatents, scaledLatents], 0) : scaledLatents;
        const unetIn = be.concat([copies, imageLatents], 1); // [B,8,h,w]
        if (copies !== scaledLatents) be.release(copies);
        be.release(scaledLatents);
        // 4b. the UNet on the batch
        const eps = this.parts.unet.forward(unetIn, new Float32Array([t]), embeds); // [B,4,h,w]
        be.release(unetIn);
        // 4c. dual guidance: uncond + g_t (text - image) + g_i (image - uncond) = g_t text + (g_i - g_t) image +
        //     (1 - g_i) uncond, in f32, one lincomb over the batch entries [text, image, uncond]
        let guided = eps;
        if (cfg) {
          await this.dumpTensor(hooks, `step${i}.noise_pred_batch`, eps);
          const gt = p.guidanceScale;
          const gi = p.imageGuidanceScale;
          guided = be.lincomb([
            { t: eps, batch: 0, coef: gt },
            { t: eps, batch: 1, coef: gi - gt },
            { t: eps, batch: 2, coef: 1 - gi },
          ]); // [1,4,h,w]
          be.release(eps);
        }
        await this.dumpTensor(hooks, `step${i}.noise_pred`, guided);
        // 4d. the scheduler step
        const stepNoise = scheduler.usesNoise(i) ? be.fromArray(noise.step(i, shape), shape) : null;
        const next = scheduler.step(be, i, guided, latents, stepNoise);
        be.release(guided);
        if (stepNoise) be.release(stepNoise);
        be.release(latents);
        latents = next;
        await this.dumpTensor(hooks, `step${i}.latents_out`, latents);
        if (hooks.onPreview) hooks.onPreview(latentsToPreview(await be.read(latents), h, w), i);
        else await be.flush();
        hooks.onProgress?.({ stage: 'denoise', step: i + 1, steps: p.steps });
      }
      this.parts.unet.cacheCrossAttention(false);
      check();
      // 5. decode latents / scaling_factor; clamp(x/2 + 0.5) -> u8, round half to even
      hooks.onProgress?.({ stage: 'decode', step: p.steps, steps: p.steps });
      await be.releaseCached?.();
      const z = be.scale(latents, 1 / this.parts.scalingFactor);
      const decoded = this.parts.vae.decode(z); // [1,3,H,W]
      be.release(z);
      await this.dumpTensor(hooks, 'vae_decode_output', decoded);
      const rgb = await be.tensorToImage(decoded);
      be.release(decoded);
      await be.releaseCached?.();
      hooks.dump?.('output_u8', rgb, [image.height, image.width, 3], 'U8');
      return { image: { width: image.width, height: image.height, data: rgb }, input: image, scaled, params: p };
    } finally {
      this.parts.unet.cacheCrossAttention(false);
      be.release(latents);
      be.release(embeds);
      be.release(imageLatents);
      scheduler.reset();
    }
  }
}
