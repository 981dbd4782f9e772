// diffusers' ResnetBlock2D, shared by the VAE (no time embedding) and the UNet (time embedding added per channel).
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { backendOf, Conv2d, GroupNorm, Linear } from './layers.ts';

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

  /** x [N,Cin,H,W], temb [N,T] or null -> [N,Cout,H,W]. */
  forward(x: Tensor, temb: Tensor | null): Tensor {
    const be = backendOf(this.vb);
    if ((temb === null) !== (this.time_emb_proj === null)) {
      throw new Error(`${this.vb.path}: time embedding ${temb ? 'given to a block without' : 'missing for'} time_emb_proj`);
    }
    // 1. h = conv1(silu(norm1(x)))
    const n1 = this.norm1.forward(x, true);
    let h = this.conv1.forward(n1); // [N,Cout,H,W]
    be.release(n1);
    // 2. h += time_emb_proj(silu(temb))[:, :, None, None]
    if (temb && this.time_emb_proj) {
      const t = be.silu(temb);
      const tp = this.time_emb_proj.forward(t); // [N,Cout]
      be.release(t);
      const ht = be.addPerChannel(h, tp);
      be.release(tp);
      be.release(h);
      h = ht;
    }
    // 3. h = conv2(silu(norm2(h)))   (dropout is the identity at inference)
    const n2 = this.norm2.forward(h, true);
    be.release(h);
    const h2 = this.conv2.forward(n2);
    be.release(n2);
    // 4. out = (shortcut(x) + h) / output_scale_factor
    const sc = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
    const out = be.add(sc, h2);
    if (sc !== x) be.release(sc);
    be.release(h2);
    if (this.outputScaleFactor === 1) return out;
    const scaled = be.scale(out, 1 / this.outputScaleFactor);
    be.release(out);
    return scaled;
  }
}
