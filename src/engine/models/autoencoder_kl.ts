// diffusers' AutoencoderKL (autoencoders/autoencoder_kl.py): image <-> latent. encode() gives the diagonal
// Gaussian over latents (the pipeline uses its mode, unscaled); decode() maps a latent back to an image with no
// scaling_factor applied inside (the caller divides by it first).
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import type { AutoencoderKLConfig } from './configs.ts';
import { backendOf, Conv2d } from './layers.ts';
import { Decoder, Encoder, type Capture } from './vae.ts';

export type { Capture } from './vae.ts';

/** diffusers DiagonalGaussianDistribution: moments [N, 2L, h, w] = [mean | logvar] along channels. */
export class DiagonalGaussianDistribution {
  /** [N, L, h, w] */
  readonly mean: Tensor;
  /** [N, L, h, w], clamped to [-30, 20] */
  readonly logvar: Tensor;
  /** [N, L, h, w] = exp(0.5 * logvar) */
  readonly std: Tensor;

  constructor(
    private readonly vb: VarBuilder,
    /** [N, 2L, h, w]; owned by the distribution. */
    readonly moments: Tensor,
  ) {
    const be = backendOf(vb);
    const l = moments.shape[1] / 2;
    // 1. mean, logvar = moments.chunk(2, dim=1)
    this.mean = be.slice(moments, 1, 0, l); // [N,L,h,w]
    const raw = be.slice(moments, 1, l, 2 * l); // [N,L,h,w]
    // 2. logvar clamped; std = exp(0.5 logvar)
    this.logvar = be.clamp(raw, -30, 20);
    be.release(raw);
    const half = be.scale(this.logvar, 0.5);
    this.std = be.exp(half);
    be.release(half);
  }

  /** The mean itself (not a copy): what the InstructPix2Pix pipeline uses as image latents. */
  mode(): Tensor {
    return this.mean;
  }

  /** mean + std * noise, noise [N, L, h, w] ~ N(0, 1) drawn by the caller. Returns a new tensor. */
  sample(noise: Tensor): Tensor {
    const be = backendOf(this.vb);
    const s = be.mul(this.std, noise);
    const out = be.add(this.mean, s);
    be.release(s);
    return out;
  }

  /** Frees moments, mean, logvar and std. */
  release(): void {
    const be = backendOf(this.vb);
    for (const t of [this.moments, this.mean, this.logvar, this.std]) be.release(t);
  }
}

export interface VaeForwardOptions {
  /**
   * Named intermediates as copies the callee owns: encode gives encoder.{conv_in, down_blocks.i, mid_block,
   * conv_norm_out (before SiLU), conv_out} and quant_conv; decode gives post_quant_conv and decoder.{conv_in,
   * mid_block, up_blocks.i, conv_norm_out}.
   */
  capture?: Capture;
}

export class AutoencoderKL {
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly quant_conv: Conv2d | null;
  readonly post_quant_conv: Conv2d | null;
  /** 2 ** (number of blocks - 1): image size / latent size. */
  readonly downscale: number;

  constructor(
    private readonly vb: VarBuilder,
    readonly config: AutoencoderKLConfig,
  ) {
    const l = config.latent_channels;
    this.encoder = new Encoder(vb.pp('encoder'), config);
    this.decoder = new Decoder(vb.pp('decoder'), config);
    this.quant_conv = config.use_quant_conv ? new Conv2d(vb.pp('quant_conv'), 2 * l, 2 * l, 1) : null;
    this.post_quant_conv = config.use_post_quant_conv ? new Conv2d(vb.pp('post_quant_conv'), l, l, 1) : null;
    this.downscale = 2 ** (config.block_out_channels.length - 1);
  }

  /**
   * x [N, in_channels, H, W] in [-1, 1] -> the latent distribution over [N, L, H/f, W/f]. Like diffusers, sizes
   * that are not multiples of f are computed anyway (each downsampler gives floor((n - 2) / 2) + 1); the
   * pipeline rounds images down to multiples of 8 first.
   */
  encode(x: Tensor, o: VaeForwardOptions = {}): DiagonalGaussianDistribution {
    const be = backendOf(this.vb);
    const cap = o.capture;
    // 1. encoder: [N,3,H,W] -> [N,2L,H/f,W/f]
    const e = this.encoder.forward(x, cap && ((name, t) => cap(`encoder.${name}`, t)));
    // 2. quant_conv (1x1): moments
    let moments = e;
    if (this.quant_conv) {
      moments = this.quant_conv.forward(e);
      be.release(e);
      if (cap) cap('quant_conv', be.scale(moments, 1));
    }
    // 3. the distribution: mean, clamped logvar, std
    return new DiagonalGaussianDistribution(this.vb, moments);
  }

  /** z [N, latent_channels, h, w] (already divided by scaling_factor) -> image [N, out_channels, h*f, w*f]. */
  decode(z: Tensor, o: VaeForwardOptions = {}): Tensor {
    const be = backendOf(this.vb);
    const cap = o.capture;
    // 1. post_quant_conv (1x1)
    let h = z;
    if (this.post_quant_conv) {
      h = this.post_quant_conv.forward(z);
      if (cap) cap('post_quant_conv', be.scale(h, 1));
    }
    // 2. decoder: [N,L,h,w] -> [N,3,h*f,w*f]
    const out = this.decoder.forward(h, cap && ((name, t) => cap(`decoder.${name}`, t)));
    if (h !== z) be.release(h);
    return out;
  }
}
