// diffusers' VAE Encoder and Decoder (autoencoders/vae.py) with the blocks only they use: DownEncoderBlock2D,
// UpDecoderBlock2D and the attention form of UNetMidBlock2D. No time embedding anywhere; every GroupNorm has
// eps 1e-6 as diffusers hard-codes for the VAE.
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { Attention } from './attention_processor.ts';
import type { AutoencoderKLConfig } from './configs.ts';
import { Downsample2D } from './downsampling.ts';
import { backendOf, Conv2d, GroupNorm } from './layers.ts';
import { ResnetBlock2D } from './resnet.ts';
import { Upsample2D } from './upsampling.ts';

const VAE_EPS = 1e-6;

/** Receives a named intermediate; the tensor is a copy the callee owns (and must release). */
export type Capture = (name: string, t: Tensor) => void;

function resnets(vb: VarBuilder, n: number, inC: number, outC: number, groups: number): ResnetBlock2D[] {
  const out: ResnetBlock2D[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      new ResnetBlock2D(vb.pp('resnets').pp(i), {
        inChannels: i === 0 ? inC : outC,
        outChannels: outC,
        tembChannels: null,
        groups,
        eps: VAE_EPS,
      }),
    );
  }
  return out;
}

/** Whether a block may free its input: the caller hands x over, and it is released once nothing more reads it. */
export interface BlockInput {
  releaseInput?: boolean;
}

/** Runs x through the resnets, releasing every intermediate, and x after the first resnet with `releaseInput`. */
function runResnets(vb: VarBuilder, blocks: ResnetBlock2D[], x: Tensor, o: BlockInput): Tensor {
  const be = backendOf(vb);
  let h = x;
  for (const r of blocks) {
    const next = r.forward(h, null);
    if (h !== x || o.releaseInput) be.release(h);
    h = next;
  }
  return h;
}

export class DownEncoderBlock2D {
  readonly resnets: ResnetBlock2D[];
  readonly downsamplers: Downsample2D[];

  constructor(
    private readonly vb: VarBuilder,
    o: { numLayers: number; inChannels: number; outChannels: number; groups: number; addDownsample: boolean },
  ) {
    this.resnets = resnets(vb, o.numLayers, o.inChannels, o.outChannels, o.groups);
    // F.pad (0,1,0,1) then stride-2 conv with padding 0
    this.downsamplers = o.addDownsample
      ? [new Downsample2D(vb.pp('downsamplers').pp(0), { channels: o.outChannels, padding: 0 })]
      : [];
  }

  /** [N,Cin,H,W] -> [N,Cout,H/2,W/2] (or H,W for the last block). */
  forward(x: Tensor, o: BlockInput = {}): Tensor {
    const be = backendOf(this.vb);
    const h = runResnets(this.vb, this.resnets, x, o);
    if (!this.downsamplers.length) return h;
    const d = this.downsamplers[0].forward(h);
    if (h !== x || o.releaseInput) be.release(h);
    return d;
  }
}

export class UpDecoderBlock2D {
  readonly resnets: ResnetBlock2D[];
  readonly upsamplers: Upsample2D[];

  constructor(
    private readonly vb: VarBuilder,
    o: { numLayers: number; inChannels: number; outChannels: number; groups: number; addUpsample: boolean },
  ) {
    this.resnets = resnets(vb, o.numLayers, o.inChannels, o.outChannels, o.groups);
    this.upsamplers = o.addUpsample ? [new Upsample2D(vb.pp('upsamplers').pp(0), { channels: o.outChannels })] : [];
  }

  /** [N,Cin,H,W] -> [N,Cout,2H,2W] (or H,W for the last block). */
  forward(x: Tensor, o: BlockInput = {}): Tensor {
    const be = backendOf(this.vb);
    const h = runResnets(this.vb, this.resnets, x, o);
    if (!this.upsamplers.length) return h;
    const u = this.upsamplers[0].forward(h);
    if (h !== x || o.releaseInput) be.release(h);
    return u;
  }
}

/** UNetMidBlock2D as the VAE builds it: resnet, (single-head self-attention over H*W tokens), resnet. */
export class UNetMidBlock2D {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: (Attention | null)[];

  constructor(
    private readonly vb: VarBuilder,
    o: { channels: number; groups: number; addAttention: boolean },
  ) {
    const c = o.channels;
    this.resnets = resnets(vb, 2, c, c, o.groups);
    // heads = channels / attention_head_dim with attention_head_dim = channels: one head of width C
    this.attentions = [
      o.addAttention
        ? new Attention(vb.pp('attentions').pp(0), {
            queryDim: c,
            heads: 1,
            dimHead: c,
            bias: true,
            normNumGroups: o.groups,
            eps: VAE_EPS,
            residualConnection: true,
            upcastAttention: true,
          })
        : null,
    ];
  }

  /** [N,C,H,W] -> [N,C,H,W]. */
  forward(x: Tensor): Tensor {
    const be = backendOf(this.vb);
    // 1. resnet
    let h = this.resnets[0].forward(x, null);
    // 2. attention (group norm -> tokens -> attention -> NCHW + residual)
    const attn = this.attentions[0];
    if (attn) {
      const a = attn.forward(h);
      be.release(h);
      h = a;
    }
    // 3. resnet
    const out = this.resnets[1].forward(h, null);
    be.release(h);
    return out;
  }
}

/** Image [N, in_channels, H, W] -> moments [N, 2*latent_channels, H/2^k, W/2^k] (before quant_conv). */
export class Encoder {
  readonly conv_in: Conv2d;
  readonly down_blocks: DownEncoderBlock2D[] = [];
  readonly mid_block: UNetMidBlock2D;
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(
    private readonly vb: VarBuilder,
    c: AutoencoderKLConfig,
  ) {
    const boc = c.block_out_channels;
    const n = boc.length;
    const g = c.norm_num_groups;
    this.conv_in = new Conv2d(vb.pp('conv_in'), c.in_channels, boc[0], 3, { padding: 1 });
    for (let i = 0; i < n; i++) {
      this.down_blocks.push(
        new DownEncoderBlock2D(vb.pp('down_blocks').pp(i), {
          numLayers: c.layers_per_block,
          inChannels: i === 0 ? boc[0] : boc[i - 1],
          outChannels: boc[i],
          groups: g,
          addDownsample: i < n - 1,
        }),
      );
    }
    this.mid_block = new UNetMidBlock2D(vb.pp('mid_block'), {
      channels: boc[n - 1],
      groups: g,
      addAttention: c.mid_block_add_attention,
    });
    this.conv_norm_out = new GroupNorm(vb.pp('conv_norm_out'), g, boc[n - 1], VAE_EPS);
    // double_z: mean and logvar channels
    this.conv_out = new Conv2d(vb.pp('conv_out'), boc[n - 1], 2 * c.latent_channels, 3, { padding: 1 });
  }

  forward(x: Tensor, capture?: Capture): Tensor {
    const be = backendOf(this.vb);
    const keep = (name: string, t: Tensor) => capture?.(name, be.scale(t, 1));
    // 1. conv_in: [N,3,H,W] -> [N,C0,H,W]
    let h = this.conv_in.forward(x);
    keep('conv_in', h);
    // 2. down blocks: [N,C_i,H/2^i,W/2^i] (each frees its input once its first resnet has read it)
    this.down_blocks.forEach((block, i) => {
      h = block.forward(h, { releaseInput: true });
      keep(`down_blocks.${i}`, h);
    });
    // 3. mid block
    const m = this.mid_block.forward(h);
    be.release(h);
    keep('mid_block', m);
    // 4. GroupNorm -> SiLU -> conv_out: [N,C,h,w] -> [N,2*latent,h,w]
    const a = normSilu(this.vb, this.conv_norm_out, m, capture && ((t) => keep('conv_norm_out', t)));
    be.release(m);
    const out = this.conv_out.forward(a);
    be.release(a);
    keep('conv_out', out);
    return out;
  }
}

/** Latent [N, latent_channels, h, w] -> image [N, out_channels, h*2^k, w*2^k]. */
export class Decoder {
  readonly conv_in: Conv2d;
  readonly mid_block: UNetMidBlock2D;
  readonly up_blocks: UpDecoderBlock2D[] = [];
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(
    private readonly vb: VarBuilder,
    c: AutoencoderKLConfig,
  ) {
    const rev = [...c.block_out_channels].reverse();
    const n = rev.length;
    const g = c.norm_num_groups;
    this.conv_in = new Conv2d(vb.pp('conv_in'), c.latent_channels, rev[0], 3, { padding: 1 });
    this.mid_block = new UNetMidBlock2D(vb.pp('mid_block'), {
      channels: rev[0],
      groups: g,
      addAttention: c.mid_block_add_attention,
    });
    for (let i = 0; i < n; i++) {
      this.up_blocks.push(
        new UpDecoderBlock2D(vb.pp('up_blocks').pp(i), {
          numLayers: c.layers_per_block + 1,
          inChannels: i === 0 ? rev[0] : rev[i - 1],
          outChannels: rev[i],
          groups: g,
          addUpsample: i < n - 1,
        }),
      );
    }
    this.conv_norm_out = new GroupNorm(vb.pp('conv_norm_out'), g, rev[n - 1], VAE_EPS);
    this.conv_out = new Conv2d(vb.pp('conv_out'), rev[n - 1], c.out_channels, 3, { padding: 1 });
  }

  forward(z: Tensor, capture?: Capture): Tensor {
    const be = backendOf(this.vb);
    const keep = (name: string, t: Tensor) => capture?.(name, be.scale(t, 1));
    // 1. conv_in: [N,latent,h,w] -> [N,C_last,h,w]
    const h0 = this.conv_in.forward(z);
    keep('conv_in', h0);
    // 2. mid block
    let h = this.mid_block.forward(h0);
    be.release(h0);
    keep('mid_block', h);
    // 3. up blocks: x2 per block but the last (each frees its input once its first resnet has read it)
    this.up_blocks.forEach((block, i) => {
      h = block.forward(h, { releaseInput: true });
      keep(`up_blocks.${i}`, h);
    });
    // 4. GroupNorm -> SiLU -> conv_out: [N,C0,H,W] -> [N,out_channels,H,W]
    const a = normSilu(this.vb, this.conv_norm_out, h, capture && ((t) => keep('conv_norm_out', t)));
    be.release(h);
    const out = this.conv_out.forward(a);
    be.release(a);
    return out;
  }
}

/** silu(norm(x)); fused unless the GroupNorm output itself is wanted (the goldens record it before SiLU). */
function normSilu(vb: VarBuilder, norm: GroupNorm, x: Tensor, seeNorm?: (t: Tensor) => void): Tensor {
  if (!seeNorm) return norm.forward(x, true);
  const be = backendOf(vb);
  const n = norm.forward(x);
  seeNorm(n);
  const a = be.silu(n);
  be.release(n);
  return a;
}
