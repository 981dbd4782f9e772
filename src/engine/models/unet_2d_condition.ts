// UNet2DConditionModel (diffusers unets/unet_2d_condition.py): the noise predictor, built from config.json. The
// skip bookkeeping is diffusers' exactly: the skip list holds conv_in's output and every state each down block
// returns; each up block takes its last resnets.length entries, and up-samples to the next skip's size when the
// latent is not divisible by 2**num_upsamplers.
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import type { UNet2DConditionConfig } from './configs.ts';
import { Timesteps, TimestepEmbedding } from './embeddings.ts';
import { backendOf, Conv2d, GroupNorm } from './layers.ts';
import { ResnetTimeProjections } from './resnet.ts';
import {
  getDownBlock,
  getMidBlock,
  getUpBlock,
  type DownBlock,
  type UNetMidBlock2D,
  type UNetMidBlock2DCrossAttn,
  type UpBlock,
} from './unet_2d_blocks.ts';

export interface UNetForwardOptions {
  /**
   * Receives named intermediates (time_proj, time_embedding, conv_in, down_blocks.i, mid_block, up_blocks.i,
   * conv_norm_out: the GroupNorm output before SiLU). Each tensor is a copy the callee owns and must release.
   */
  capture?: (name: string, t: Tensor) => void;
}

export class UNet2DConditionModel {
  readonly time_proj: Timesteps;
  readonly time_embedding: TimestepEmbedding;
  readonly conv_in: Conv2d;
  readonly down_blocks: DownBlock[] = [];
  readonly mid_block: UNetMidBlock2DCrossAttn | UNetMidBlock2D | null;
  readonly up_blocks: UpBlock[] = [];
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;
  /** Up blocks that end with an up-sampler: the latent must be divisible by 2**numUpsamplers for plain x2 steps. */
  readonly numUpsamplers: number;
  /** Every resnet's time_emb_proj as one stacked linear (null when built shape-only, without a backend). */
  readonly resnetTimeProjections: ResnetTimeProjections | null;

  constructor(
    private readonly vb: VarBuilder,
    readonly config: UNet2DConditionConfig,
  ) {
    const c = config;
    const boc = c.block_out_channels;
    const n = boc.length;
    const timeEmbedDim = c.time_embedding_dim ?? boc[0] * 4;
    const common = {
      tembChannels: timeEmbedDim,
      resnetEps: c.norm_eps,
      resnetGroups: c.norm_num_groups,
      useLinearProjection: c.use_linear_projection,
    };

    // time: sinusoidal projection to C0, then the MLP to timeEmbedDim
    this.time_proj = new Timesteps(vb, boc[0], c.flip_sin_to_cos, c.freq_shift);
    this.time_embedding = new TimestepEmbedding(vb.pp('time_embedding'), boc[0], timeEmbedDim);
    this.conv_in = new Conv2d(vb.pp('conv_in'), c.in_channels, boc[0], c.conv_in_kernel, {
      padding: (c.conv_in_kernel - 1) / 2,
    });

    // down: block i maps boc[i-1] -> boc[i]; all but the last halve the resolution
    for (let i = 0; i < n; i++) {
      this.down_blocks.push(
        getDownBlock(c.down_block_types[i], vb.pp('down_blocks').pp(i), {
          ...common,
          numLayers: c.layers_per_block[i],
          transformerLayersPerBlock: c.transformer_layers_per_block[i],
          numAttentionHeads: c.num_attention_heads[i],
          crossAttentionDim: c.cross_attention_dim[i],
          onlyCrossAttention: c.only_cross_attention[i],
          inChannels: i === 0 ? boc[0] : boc[i - 1],
          outChannels: boc[i],
          addDownsample: i < n - 1,
          downsamplePadding: c.downsample_padding,
        }),
      );
    }

    // mid: at the deepest width (diffusers passes no only_cross_attention to UNetMidBlock2DCrossAttn)
    this.mid_block =
      c.mid_block_type === null
        ? null
        : getMidBlock(c.mid_block_type, vb.pp('mid_block'), {
            ...common,
            transformerLayersPerBlock: c.transformer_layers_per_block[n - 1],
            numAttentionHeads: c.num_attention_heads[n - 1],
            crossAttentionDim: c.cross_attention_dim[n - 1],
            onlyCrossAttention: false,
            inChannels: boc[n - 1],
            outputScaleFactor: c.mid_block_scale_factor,
          });

    // up: the per-block lists reversed; one more resnet than the matching down block (it eats conv_in's or the
    // downsampler's skip)
    const rev = <T>(xs: readonly T[]): T[] => [...xs].reverse();
    const rBoc = rev(boc);
    const rHeads = rev(c.num_attention_heads);
    const rLayers = rev(c.layers_per_block);
    const rCross = rev(c.cross_attention_dim);
    const rTlpb = rev(c.transformer_layers_per_block);
    const rOnlyCross = rev(c.only_cross_attention);
    let numUpsamplers = 0;
    for (let i = 0; i < n; i++) {
      const isFinal = i === n - 1;
      if (!isFinal) numUpsamplers++;
      this.up_blocks.push(
        getUpBlock(c.up_block_types[i], vb.pp('up_blocks').pp(i), {
          ...common,
          numLayers: rLayers[i] + 1,
          transformerLayersPerBlock: rTlpb[i],
          numAttentionHeads: rHeads[i],
          crossAttentionDim: rCross[i],
          onlyCrossAttention: rOnlyCross[i],
          inChannels: rBoc[Math.min(i + 1, n - 1)],
          prevOutputChannels: rBoc[i === 0 ? 0 : i - 1],
          outChannels: rBoc[i],
          addUpsample: !isFinal,
        }),
      );
    }
    this.numUpsamplers = numUpsamplers;

    this.conv_norm_out = new GroupNorm(vb.pp('conv_norm_out'), c.norm_num_groups, boc[0], c.norm_eps);
    this.conv_out = new Conv2d(vb.pp('conv_out'), boc[0], c.out_channels, c.conv_out_kernel, {
      padding: (c.conv_out_kernel - 1) / 2,
    });

    // every resnet projects the same time embedding: one GEMM for all of them, weights stacked once here
    const resnets = this.blocks().flatMap((b) => b.resnets);
    this.resnetTimeProjections = vb.backend ? new ResnetTimeProjections(vb, resnets) : null;
  }

  /** Down, mid and up blocks, in order. */
  private blocks(): (DownBlock | UNetMidBlock2DCrossAttn | UNetMidBlock2D | UpBlock)[] {
    return [...this.down_blocks, ...(this.mid_block ? [this.mid_block] : []), ...this.up_blocks];
  }

  /**
   * Keep every cross-attention's K and V of the text from the first forward with a given encoder_hidden_states
   * tensor until turned off (they do not change across denoising steps); off frees them.
   */
  cacheCrossAttention(on: boolean): void {
    for (const block of this.blocks()) {
      for (const t of block.attentions) {
        for (const b of t.transformer_blocks) {
          b.attn1.cacheCrossAttention(on);
          b.attn2.cacheCrossAttention(on);
        }
      }
    }
  }

  /**
   * sample [B, in_channels, h, w], timesteps [B] or [1] (f32, fractional allowed), encoderHiddenStates
   * [B, T, cross_attention_dim] -> noise prediction [B, out_channels, h, w]. Inputs are not released.
   */
  forward(sample: Tensor, timesteps: Float32Array, encoderHiddenStates: Tensor, opts: UNetForwardOptions = {}): Tensor {
    const be = backendOf(this.vb);
    const [batch, , height, width] = sample.shape;
    const capture = (name: string, t: Tensor) => opts.capture?.(name, be.scale(t, 1));
    const overallUpFactor = 2 ** this.numUpsamplers;
    const forwardUpsampleSize = height % overallUpFactor !== 0 || width % overallUpFactor !== 0;

    // 1. time embedding: t [B] -> [B, C0] -> [B, 4*C0]
    const t = timesteps.length === 1 && batch > 1 ? new Float32Array(batch).fill(timesteps[0]) : timesteps;
    if (t.length !== batch) throw new Error(`unet: ${timesteps.length} timesteps for a batch of ${batch}`);
    const tProj = this.time_proj.forward(t); // [B, C0]
    if (opts.capture) capture('time_proj', tProj);
    const emb = this.time_embedding.forward(tProj); // [B, 4*C0]
    be.release(tProj);
    if (opts.capture) capture('time_embedding', emb);
    // every resnet's time_emb_proj(silu(emb)) at once: [B, sum of the resnets' widths]
    const temb = this.resnetTimeProjections ? this.resnetTimeProjections.forward(emb) : emb;
    if (temb !== emb) be.release(emb);

    // 2. pre-process: [B, Cin, h, w] -> [B, C0, h, w]
    const centered = this.config.center_input_sample ? be.scale(sample, 2, -1) : sample;
    let h = this.conv_in.forward(centered);
    if (centered !== sample) be.release(centered);
    if (opts.capture) capture('conv_in', h);

    // 3. down: every state is kept for the up path
    const skips: Tensor[] = [h];
    this.down_blocks.forEach((block, i) => {
      const states = block.forward(h, temb, encoderHiddenStates); // last: [B, C_i, h/2^k, w/2^k]
      skips.push(...states);
      h = states[states.length - 1];
      if (opts.capture) capture(`down_blocks.${i}`, h);
    });

    // 4. mid: [B, C_last, ., .] -> same
    if (this.mid_block) {
      h = this.mid_block.forward(h, temb, encoderHiddenStates); // h before it is a skip, released below
      if (opts.capture) capture('mid_block', h);
    }

    // 5. up: each block consumes its skips (last first), up-sampling x2 or to the next skip's size
    const released = new Set<Tensor>();
    const free = (x: Tensor) => {
      if (!released.has(x)) be.release(x);
      released.add(x);
    };
    this.up_blocks.forEach((block, i) => {
      const isFinal = i === this.up_blocks.length - 1;
      const mine = skips.splice(skips.length - block.resnets.length, block.resnets.length);
      let upsampleSize: [number, number] | undefined;
      if (!isFinal && forwardUpsampleSize) {
        const next = skips[skips.length - 1];
        upsampleSize = [next.shape[2], next.shape[3]];
      }
      const out = block.forward(h, mine, temb, encoderHiddenStates, upsampleSize); // [B, C, ., .]
      free(h);
      mine.forEach(free);
      h = out;
      if (opts.capture) capture(`up_blocks.${i}`, h);
    });
    be.release('table' in temb ? temb.table : temb);

    // 6. post-process: GroupNorm -> SiLU -> conv_out: [B, C0, h, w] -> [B, out_channels, h, w] (the SiLU fused into
    //    the norm unless the norm's own output is captured)
    let a: Tensor;
    if (opts.capture) {
      const n = this.conv_norm_out.forward(h);
      capture('conv_norm_out', n);
      a = be.silu(n);
      be.release(n);
    } else {
      a = this.conv_norm_out.forward(h, true);
    }
    be.release(h);
    const out = this.conv_out.forward(a);
    be.release(a);
    return out;
  }
}
