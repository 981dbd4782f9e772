// diffusers' ResnetBlock2D, shared by the VAE (no time embedding) and the UNet (time embedding added per channel),
// and the UNet's stacked time projections: every block's time_emb_proj of the same embedding in one GEMM.
import type { ChannelBias, Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { backendOf, Conv2d, GroupNorm, Linear, StackedLinear } from './layers.ts';

export interface ResnetBlock2DOptions {
  inChannels: number;
  outChannels: number;
  /** Width of the time embedding; null = no time_emb_proj (VAE). */
  tembChannels: number | null;
  groups: number;
  /** Groups of norm2; default `groups`. */
  groupsOut?: number;
  eps: number;
  /** The output is divided by this (diffusers output_scale_factor); default 1. */
  outputScaleFactor?: number;
}

/**
 * time_emb_proj(silu(temb)) of every block of a UNet, side by side: [B, sum of their out channels]. Made by
 * ResnetTimeProjections; a block reads its own column range (as conv1's channel bias).
 */
export interface ProjectedTemb {
  readonly table: Tensor;
  readonly offsets: ReadonlyMap<ResnetBlock2D, number>;
}

/** What a block adds after conv1: the raw time embedding [N, T] (projected in the block), or the UNet's table. */
export type Temb = Tensor | ProjectedTemb;

export class ResnetBlock2D {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly time_emb_proj: Linear | null;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
  /** 1x1 conv when the channel count changes (diffusers use_in_shortcut). */
  readonly conv_shortcut: Conv2d | null;
  readonly outputScaleFactor: number;

  constructor(
    private readonly vb: VarBuilder,
    o: ResnetBlock2DOptions,
  ) {
    const { inChannels, outChannels, tembChannels, groups, eps } = o;
    this.norm1 = new GroupNorm(vb.pp('norm1'), groups, inChannels, eps);
    this.conv1 = new Conv2d(vb.pp('conv1'), inChannels, outChannels, 3, { padding: 1 });
    this.time_emb_proj = tembChannels === null ? null : new Linear(vb.pp('time_emb_proj'), tembChannels, outChannels);
    this.norm2 = new GroupNorm(vb.pp('norm2'), o.groupsOut ?? groups, outChannels, eps);
    this.conv2 = new Conv2d(vb.pp('conv2'), outChannels, outChannels, 3, { padding: 1 });
    this.conv_shortcut =
      inChannels === outChannels ? null : new Conv2d(vb.pp('conv_shortcut'), inChannels, outChannels, 1);
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
  }

  /** x [N,Cin,H,W], temb (raw [N,T] or the UNet's projections) or null -> [N,Cout,H,W]. */
  forward(x: Tensor, temb: Temb | null): Tensor {
    const be = backendOf(this.vb);
    if ((temb === null) !== (this.time_emb_proj === null)) {
      throw new Error(`${this.vb.path}: time embedding ${temb ? 'given to a block without' : 'missing for'} time_emb_proj`);
    }
    // 1. h = conv1(silu(norm1(x))) + time_emb_proj(silu(temb))[:, :, None, None]   (the add is conv1's channel bias)
    const t = temb && this.timeBias(temb); // [N, Cout] columns of a table
    const n1 = this.norm1.forward(x, true);
    const h = this.conv1.forward(n1, { channelBias: t?.bias }); // [N,Cout,H,W]
    be.release(n1);
    if (t?.owned) be.release(t.bias.table);
    // 2. h2 = conv2(silu(norm2(h))) + shortcut(x)   (dropout is the identity; the skip add is conv2's residual)
    const n2 = this.norm2.forward(h, true);
    be.release(h);
    const sc = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
    const out = this.conv2.forward(n2, { residual: sc }); // [N,Cout,H,W]
    be.release(n2);
    if (sc !== x) be.release(sc);
    // 3. out = (shortcut(x) + h2) / output_scale_factor
    if (this.outputScaleFactor === 1) return out;
    const scaled = be.scale(out, 1 / this.outputScaleFactor);
    be.release(out);
    return scaled;
  }

  /** This block's time_emb_proj(silu(temb)) as a channel bias: its columns of the UNet's table, or projected here. */
  private timeBias(temb: Temb): { bias: ChannelBias; owned: boolean } {
    if ('table' in temb) {
      const offset = temb.offsets.get(this);
      if (offset === undefined) throw new Error(`${this.vb.path}: not among the blocks of the projected time embedding`);
      return { bias: { table: temb.table, offset }, owned: false };
    }
    const be = backendOf(this.vb);
    const a = be.silu(temb);
    const table = this.time_emb_proj!.forward(a); // [N, Cout]
    be.release(a);
    return { bias: { table, offset: 0 }, owned: true };
  }
}

/**
 * Every block's time_emb_proj applied to silu(temb) as one linear (their weights stacked once, at load); block i
 * reads its columns of the result as conv1's channel bias.
 */
export class ResnetTimeProjections {
  readonly proj: StackedLinear; // [sum Cout, T]
  private readonly offsets = new Map<ResnetBlock2D, number>();

  constructor(
    private readonly vb: VarBuilder,
    blocks: readonly ResnetBlock2D[],
  ) {
    const projs = blocks.map((b) => {
      if (!b.time_emb_proj?.bias) throw new Error(`${vb.path}: every block needs a time_emb_proj with a bias`);
      return b.time_emb_proj;
    });
    let offset = 0;
    blocks.forEach((b, i) => {
      this.offsets.set(b, offset);
      offset += projs[i].outFeatures;
    });
    this.proj = new StackedLinear(vb, projs);
  }

  /** temb [B, T] -> every block's projection, [B, sum Cout]; the caller releases `table`. */
  forward(temb: Tensor): ProjectedTemb {
    const be = backendOf(this.vb);
    const a = be.silu(temb);
    const table = this.proj.forward(a); // [B, sum Cout]
    be.release(a);
    return { table, offsets: this.offsets };
  }
}
