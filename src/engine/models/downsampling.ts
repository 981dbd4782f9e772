// diffusers' Downsample2D (the conv variant): stride-2 3x3 conv. With padding 0 (the VAE encoder) the input is
// first padded on the right and bottom only, as diffusers does with F.pad(x, (0, 1, 0, 1)).
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { Conv2d } from './layers.ts';

export interface Downsample2DOptions {
  channels: number;
  /** diffusers use_conv; only the conv variant exists here (false would be an average pool). Default true. */
  useConv?: boolean;
  /** Default `channels`. */
  outChannels?: number;
  /** Symmetric conv padding (UNet: downsample_padding = 1); 0 means the asymmetric (0,1,0,1) pad. */
  padding: number;
}

export class Downsample2D {
  readonly conv: Conv2d;

  constructor(vb: VarBuilder, o: Downsample2DOptions) {
    if (o.useConv === false) throw new Error(`${vb.path}: Downsample2D without conv (avg pool) is not implemented`);
    const p = o.padding;
    const pad: [number, number, number, number] = p === 0 ? [0, 1, 0, 1] : [p, p, p, p]; // [top, bottom, left, right]
    this.conv = new Conv2d(vb.pp('conv'), o.channels, o.outChannels ?? o.channels, 3, { stride: 2, pad });
  }

  /** x [N,C,H,W] -> [N,Cout,floor((H + padH - 3) / 2) + 1, same for W]. */
  forward(x: Tensor): Tensor {
    return this.conv.forward(x);
  }
}
