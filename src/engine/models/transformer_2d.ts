// Transformer2DModel (diffusers transformers/transformer_2d.py, continuous input): the spatial transformer that
// lets UNet feature maps attend to themselves and to the text. proj_in/proj_out are 1x1 convs on NCHW
// (use_linear_projection false, SD 1.x) or Linears on [B, HW, C] (true, SD 2.x).
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { BasicTransformerBlock } from './attention.ts';
import { backendOf, Conv2d, GroupNorm, Linear } from './layers.ts';

export interface Transformer2DConfig {
  numAttentionHeads: number;
  attentionHeadDim: number;
  inChannels: number;
  numLayers: number;
  crossAttentionDim: number;
  normNumGroups: number;
  useLinearProjection: boolean;
  onlyCrossAttention?: boolean;
}

export class Transformer2DModel {
  readonly norm: GroupNorm;
  readonly proj_in: Conv2d | Linear;
  readonly transformer_blocks: BasicTransformerBlock[];
  readonly proj_out: Conv2d | Linear;

  constructor(
    private readonly vb: VarBuilder,
    readonly config: Transformer2DConfig,
  ) {
    const c = config;
    const inner = c.numAttentionHeads * c.attentionHeadDim;
    this.norm = new GroupNorm(vb.pp('norm'), c.normNumGroups, c.inChannels, 1e-6);
    this.proj_in = c.useLinearProjection
      ? new Linear(vb.pp('proj_in'), c.inChannels, inner)
      : new Conv2d(vb.pp('proj_in'), c.inChannels, inner, 1);
    this.transformer_blocks = [];
    for (let i = 0; i < c.numLayers; i++) {
      this.transformer_blocks.push(
        new BasicTransformerBlock(vb.pp('transformer_blocks').pp(i), {
          dim: inner,
          numAttentionHeads: c.numAttentionHeads,
          attentionHeadDim: c.attentionHeadDim,
          crossAttentionDim: c.crossAttentionDim,
          onlyCrossAttention: c.onlyCrossAttention,
        }),
      );
    }
    this.proj_out = c.useLinearProjection
      ? new Linear(vb.pp('proj_out'), inner, c.inChannels)
      : new Conv2d(vb.pp('proj_out'), inner, c.inChannels, 1);
  }

  /** x [B, C, H, W], encoderHiddenStates [B, T, crossDim] -> [B, C, H, W]. */
  forward(x: Tensor, encoderHiddenStates: Tensor): Tensor {
    const be = backendOf(this.vb);
    const [, , h, w] = x.shape;
    // 1. normalize (the input stays as the residual)
    const n = this.norm.forward(x); // [B, C, H, W]
    // 2. project in and flatten to tokens (the 1x1 conv writes tokens directly)
    let tokens: Tensor;
    if (this.proj_in instanceof Linear) {
      const flat = be.nchwToNlc(n); // [B, HW, C]
      tokens = this.proj_in.forward(flat); // [B, HW, inner]
      be.release(flat);
    } else {
      tokens = this.proj_in.forward(n, { outputTokens: true }); // [B, HW, inner]
    }
    be.release(n);
    // 3. transformer blocks
    for (const block of this.transformer_blocks) {
      const next = block.forward(tokens, encoderHiddenStates); // [B, HW, inner]
      be.release(tokens);
      tokens = next;
    }
    // 4. project out, back to NCHW, plus the residual (the 1x1 conv reads tokens and adds x)
    let out: Tensor;
    if (this.proj_out instanceof Linear) {
      const p = this.proj_out.forward(tokens); // [B, HW, C]
      const y = be.nlcToNchw(p, h, w); // [B, C, H, W]
      be.release(p);
      out = be.add(y, x);
      be.release(y);
    } else {
      out = this.proj_out.forward(tokens, { inputTokens: [h, w], residual: x }); // [B, C, H, W]
    }
    be.release(tokens);
    return out;
  }
}
