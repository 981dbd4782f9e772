// diffusers' Upsample2D (the interpolate + conv variant): nearest resize to 2x, or to a given size when the
// UNet's skip tensor does not have twice the size (latents not divisible by 2**num_upsamplers), then a 3x3 conv.
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { backendOf, Conv2d } from './layers.ts';

export interface Upsample2DOptions {
  channels: number;
  /** diffusers use_conv: false = interpolation only (no weights). Default true. */
  useConv?: boolean;
  /** Default `channels`. */
  outChannels?: number;
}

export class Upsample2D {
  readonly conv: Conv2d | null;

  constructor(
    private readonly vb: VarBuilder,
    o: Upsample2DOptions,
  ) {
    const out = o.outChannels ?? o.channels;
    if (o.useConv === false && out !== o.channels) throw new Error(`${vb.path}: outChannels needs useConv`);
    this.conv = o.useConv === false ? null : new Conv2d(vb.pp('conv'), o.channels, out, 3, { padding: 1 });
  }

  /** x [N,C,H,W] -> [N,Cout,outH,outW]; outputSize [outH, outW] defaults to [2H, 2W]. */
  forward(x: Tensor, outputSize: readonly [number, number] | null = null): Tensor {
    const [, , h, w] = x.shape;
    const [oh, ow] = outputSize ?? [2 * h, 2 * w];
    // 1. nearest interpolation (PyTorch rule src = floor(dst * in / out)) -> [N,C,oh,ow]
    if (!this.conv) return backendOf(this.vb).upsampleNearest(x, oh, ow);
    // 2. 3x3 conv, padding 1 (the interpolation runs inside its gather: no upsampled copy)
    return this.conv.forward(x, { upsample: [oh, ow] }); // [N,Cout,oh,ow]
  }
}
