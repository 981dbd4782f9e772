// The UNet's down, mid and up blocks (diffusers unets/unet_2d_blocks.py) and the factories that pick one by the
// type name written in config.json. Down blocks return every state the up path will concatenate back (the skip
// list); up blocks take their share of that list, last first.
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { Downsample2D } from './downsampling.ts';
import { backendOf } from './layers.ts';
import { ResnetBlock2D, type Temb } from './resnet.ts';
import { Transformer2DModel } from './transformer_2d.ts';
import { Upsample2D } from './upsampling.ts';

/** What every block needs beyond its channel counts (one entry of the UNet's per-block lists). */
export interface BlockCommon {
  numLayers: number;
  /** Transformer layers per attention (a number, or one per layer). Ignored by blocks without attention. */
  transformerLayersPerBlock: number | readonly number[];
  tembChannels: number;
  resnetEps: number;
  resnetGroups: number;
  numAttentionHeads: number;
  crossAttentionDim: number;
  useLinearProjection: boolean;
  onlyCrossAttention: boolean;
}

export interface DownBlockConfig extends BlockCommon {
  inChannels: number;
  outChannels: number;
  addDownsample: boolean;
  downsamplePadding: number;
}

export interface UpBlockConfig extends BlockCommon {
  /** Channels of the skip entering the block's last resnet (the previous block's width on the down path). */
  inChannels: number;
  /** Channels of h coming from the block below. */
  prevOutputChannels: number;
  outChannels: number;
  addUpsample: boolean;
}

export interface MidBlockConfig extends Omit<BlockCommon, 'numLayers'> {
  inChannels: number;
  outputScaleFactor: number;
}

// temb: the raw time embedding [B, T], or every resnet's projection of it made once by the UNet (resnet.ts).
export interface DownBlock {
  readonly resnets: ResnetBlock2D[];
  /** Spatial transformers (empty without attention). */
  readonly attentions: Transformer2DModel[];
  /** h [B,Cin,H,W] -> the states to keep as skips, in order; the last one is the block's output. */
  forward(h: Tensor, temb: Temb, encoderHiddenStates: Tensor): Tensor[];
}

export interface UpBlock {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Transformer2DModel[];
  /** skips: this block's share of the skip list (resnets.length tensors), consumed from the end. */
  forward(h: Tensor, skips: readonly Tensor[], temb: Temb, encoderHiddenStates: Tensor, upsampleSize?: [number, number]): Tensor;
}

function perLayer(v: number | readonly number[], n: number, what: string): number[] {
  const list = typeof v === 'number' ? new Array<number>(n).fill(v) : [...v];
  if (list.length !== n) throw new Error(`${what}: ${list.length} entries for ${n} layers`);
  return list;
}

function transformer(vb: VarBuilder, c: BlockCommon | MidBlockConfig, channels: number, layers: number): Transformer2DModel {
  if (channels % c.numAttentionHeads !== 0) {
    throw new Error(`${vb.path}: ${channels} channels do not split into ${c.numAttentionHeads} heads`);
  }
  return new Transformer2DModel(vb, {
    numAttentionHeads: c.numAttentionHeads,
    attentionHeadDim: channels / c.numAttentionHeads,
    inChannels: channels,
    numLayers: layers,
    crossAttentionDim: c.crossAttentionDim,
    normNumGroups: c.resnetGroups,
    useLinearProjection: c.useLinearProjection,
    onlyCrossAttention: c.onlyCrossAttention,
  });
}

/** DownBlock2D (withAttention false) and CrossAttnDownBlock2D (true): resnet (+ transformer) per layer, then a
 * stride-2 conv unless this is the last block. */
class DownBlockImpl implements DownBlock {
  readonly resnets: ResnetBlock2D[] = [];
  readonly attentions: Transformer2DModel[] = [];
  readonly downsamplers: Downsample2D[] = [];

  constructor(
    private readonly vb: VarBuilder,
    readonly config: DownBlockConfig,
    withAttention: boolean,
  ) {
    const c = config;
    const tlpb = perLayer(c.transformerLayersPerBlock, c.numLayers, `${vb.path}.transformer_layers_per_block`);
    for (let i = 0; i < c.numLayers; i++) {
      this.resnets.push(
        new ResnetBlock2D(vb.pp('resnets').pp(i), {
          inChannels: i === 0 ? c.inChannels : c.outChannels,
          outChannels: c.outChannels,
          tembChannels: c.tembChannels,
          groups: c.resnetGroups,
          eps: c.resnetEps,
        }),
      );
      if (withAttention) this.attentions.push(transformer(vb.pp('attentions').pp(i), c, c.outChannels, tlpb[i]));
    }
    if (c.addDownsample) {
      this.downsamplers.push(
        new Downsample2D(vb.pp('downsamplers').pp(0), {
          channels: c.outChannels,
          useConv: true,
          outChannels: c.outChannels,
          padding: c.downsamplePadding,
        }),
      );
    }
  }

  forward(h: Tensor, temb: Temb, encoderHiddenStates: Tensor): Tensor[] {
    const be = backendOf(this.vb);
    const states: Tensor[] = [];
    let x = h;
    for (let i = 0; i < this.resnets.length; i++) {
      // 1. resnet with the time embedding
      const r = this.resnets[i].forward(x, temb); // [B, Cout, H, W]
      // 2. spatial transformer on the text (CrossAttn blocks)
      if (this.attentions.length) {
        x = this.attentions[i].forward(r, encoderHiddenStates); // [B, Cout, H, W]
        be.release(r);
      } else {
        x = r;
      }
      states.push(x);
    }
    // 3. downsample: [B, Cout, H, W] -> [B, Cout, ceil(H/2), ceil(W/2)]
    for (const d of this.downsamplers) {
      x = d.forward(x);
      states.push(x);
    }
    return states;
  }
}

export class DownBlock2D extends DownBlockImpl {
  constructor(vb: VarBuilder, config: DownBlockConfig) {
    super(vb, config, false);
  }
}

export class CrossAttnDownBlock2D extends DownBlockImpl {
  constructor(vb: VarBuilder, config: DownBlockConfig) {
    super(vb, config, true);
  }
}

/** UpBlock2D (withAttention false) and CrossAttnUpBlock2D (true): per layer cat([h, skip]) -> resnet (+ transformer),
 * then nearest upsample + conv unless this is the last block. */
class UpBlockImpl implements UpBlock {
  readonly resnets: ResnetBlock2D[] = [];
  readonly attentions: Transformer2DModel[] = [];
  readonly upsamplers: Upsample2D[] = [];

  constructor(
    private readonly vb: VarBuilder,
    readonly config: UpBlockConfig,
    withAttention: boolean,
  ) {
    const c = config;
    const n = c.numLayers;
    const tlpb = perLayer(c.transformerLayersPerBlock, n, `${vb.path}.transformer_layers_per_block`);
    for (let i = 0; i < n; i++) {
      const skipChannels = i === n - 1 ? c.inChannels : c.outChannels;
      const hChannels = i === 0 ? c.prevOutputChannels : c.outChannels;
      this.resnets.push(
        new ResnetBlock2D(vb.pp('resnets').pp(i), {
          inChannels: hChannels + skipChannels,
          outChannels: c.outChannels,
          tembChannels: c.tembChannels,
          groups: c.resnetGroups,
          eps: c.resnetEps,
        }),
      );
      if (withAttention) this.attentions.push(transformer(vb.pp('attentions').pp(i), c, c.outChannels, tlpb[i]));
    }
    if (c.addUpsample) {
      this.upsamplers.push(
        new Upsample2D(vb.pp('upsamplers').pp(0), { channels: c.outChannels, useConv: true, outChannels: c.outChannels }),
      );
    }
  }

  forward(h: Tensor, skips: readonly Tensor[], temb: Temb, encoderHiddenStates: Tensor, upsampleSize?: [number, number]): Tensor {
    const be = backendOf(this.vb);
    if (skips.length !== this.resnets.length) {
      throw new Error(`${this.vb.path}: ${skips.length} skip tensors for ${this.resnets.length} resnets`);
    }
    let x = h;
    for (let i = 0; i < this.resnets.length; i++) {
      // 1. concatenate the matching skip, h first: [B, Ch, H, W] + [B, Cs, H, W] -> [B, Ch+Cs, H, W]
      const skip = skips[skips.length - 1 - i];
      const cat = be.concat([x, skip], 1);
      if (x !== h) be.release(x);
      // 2. resnet with the time embedding
      const r = this.resnets[i].forward(cat, temb); // [B, Cout, H, W]
      be.release(cat);
      // 3. spatial transformer on the text (CrossAttn blocks)
      if (this.attentions.length) {
        x = this.attentions[i].forward(r, encoderHiddenStates); // [B, Cout, H, W]
        be.release(r);
      } else {
        x = r;
      }
    }
    // 4. upsample: [B, Cout, H, W] -> [B, Cout, 2H, 2W] (or to upsampleSize)
    for (const u of this.upsamplers) {
      const y = u.forward(x, upsampleSize);
      if (x !== h) be.release(x);
      x = y;
    }
    return x;
  }
}

export class UpBlock2D extends UpBlockImpl {
  constructor(vb: VarBuilder, config: UpBlockConfig) {
    super(vb, config, false);
  }
}

export class CrossAttnUpBlock2D extends UpBlockImpl {
  constructor(vb: VarBuilder, config: UpBlockConfig) {
    super(vb, config, true);
  }
}

/** UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) per layer (one layer in every UNet config). */
export class UNetMidBlock2DCrossAttn {
  readonly resnets: ResnetBlock2D[] = [];
  readonly attentions: Transformer2DModel[] = [];

  constructor(
    private readonly vb: VarBuilder,
    readonly config: MidBlockConfig,
    numLayers = 1,
  ) {
    const c = config;
    const tlpb = perLayer(c.transformerLayersPerBlock, numLayers, `${vb.path}.transformer_layers_per_block`);
    const resnet = (i: number) =>
      new ResnetBlock2D(vb.pp('resnets').pp(i), {
        inChannels: c.inChannels,
        outChannels: c.inChannels,
        tembChannels: c.tembChannels,
        groups: c.resnetGroups,
        eps: c.resnetEps,
        outputScaleFactor: c.outputScaleFactor,
      });
    this.resnets.push(resnet(0));
    for (let i = 0; i < numLayers; i++) {
      this.attentions.push(transformer(vb.pp('attentions').pp(i), c, c.inChannels, tlpb[i]));
      this.resnets.push(resnet(i + 1));
    }
  }

  /** h [B, C, H, W] -> [B, C, H, W]. */
  forward(h: Tensor, temb: Temb, encoderHiddenStates: Tensor): Tensor {
    const be = backendOf(this.vb);
    // 1. first resnet
    let x = this.resnets[0].forward(h, temb);
    for (let i = 0; i < this.attentions.length; i++) {
      // 2. transformer, then the next resnet
      const a = this.attentions[i].forward(x, encoderHiddenStates);
      be.release(x);
      x = this.resnets[i + 1].forward(a, temb);
      be.release(a);
    }
    return x;
  }
}

/** UNetMidBlock2D as UNet2DConditionModel builds it (num_layers 0, add_attention false): one resnet. */
export class UNetMidBlock2D {
  readonly resnets: ResnetBlock2D[];
  readonly attentions: Transformer2DModel[] = [];

  constructor(vb: VarBuilder, readonly config: MidBlockConfig) {
    this.resnets = [
      new ResnetBlock2D(vb.pp('resnets').pp(0), {
        inChannels: config.inChannels,
        outChannels: config.inChannels,
        tembChannels: config.tembChannels,
        groups: config.resnetGroups,
        eps: config.resnetEps,
        outputScaleFactor: config.outputScaleFactor,
      }),
    ];
  }

  /** h [B, C, H, W] -> [B, C, H, W]. */
  forward(h: Tensor, temb: Temb, _encoderHiddenStates: Tensor): Tensor {
    return this.resnets[0].forward(h, temb);
  }
}

export function getMidBlock(type: string, vb: VarBuilder, config: MidBlockConfig): UNetMidBlock2DCrossAttn | UNetMidBlock2D {
  switch (type) {
    case 'UNetMidBlock2DCrossAttn':
      return new UNetMidBlock2DCrossAttn(vb, config);
    case 'UNetMidBlock2D':
      return new UNetMidBlock2D(vb, config);
    default:
      throw new Error(`${vb.path}: unsupported mid block type ${type}`);
  }
}

export function getDownBlock(type: string, vb: VarBuilder, config: DownBlockConfig): DownBlock {
  switch (type) {
    case 'DownBlock2D':
      return new DownBlock2D(vb, config);
    case 'CrossAttnDownBlock2D':
      return new CrossAttnDownBlock2D(vb, config);
    default:
      throw new Error(`${vb.path}: unsupported down block type ${type}`);
  }
}

export function getUpBlock(type: string, vb: VarBuilder, config: UpBlockConfig): UpBlock {
  switch (type) {
    case 'UpBlock2D':
      return new UpBlock2D(vb, config);
    case 'CrossAttnUpBlock2D':
      return new CrossAttnUpBlock2D(vb, config);
    default:
      throw new Error(`${vb.path}: unsupported up block type ${type}`);
  }
}
