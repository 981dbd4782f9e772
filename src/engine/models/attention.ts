// The transformer layer inside every Transformer2DModel (diffusers attention.py): self-attention, cross-attention
// on the text tokens, and the GEGLU feed-forward, each pre-LayerNorm with a residual add.
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { Attention } from './attention_processor.ts';
import { backendOf, LayerNorm, Linear } from './layers.ts';

/** GEGLU: proj to 2*dimOut, then first half * gelu(second half). */
export class GEGLU {
  readonly proj: Linear;
  constructor(
    private readonly vb: VarBuilder,
    readonly dimIn: number,
    readonly dimOut: number,
  ) {
    this.proj = new Linear(vb.pp('proj'), dimIn, dimOut * 2);
  }

  /** x [B, L, dimIn] -> [B, L, dimOut]. */
  forward(x: Tensor): Tensor {
    const be = backendOf(this.vb);
    const p = this.proj.forward(x); // [B, L, 2*dimOut]
    const out = be.geglu(p); // [B, L, dimOut]
    be.release(p);
    return out;
  }
}

/** FeedForward with activation "geglu": net.0 = GEGLU(dim -> dim*mult), net.1 = dropout, net.2 = Linear(-> dimOut). */
export class FeedForward {
  readonly net_0: GEGLU;
  readonly net_2: Linear;
  constructor(
    private readonly vb: VarBuilder,
    readonly dim: number,
    o: { mult?: number; dimOut?: number } = {},
  ) {
    const inner = dim * (o.mult ?? 4);
    this.net_0 = new GEGLU(vb.pp('net').pp(0), dim, inner);
    this.net_2 = new Linear(vb.pp('net').pp(2), inner, o.dimOut ?? dim);
  }

  /** x [B, L, dim] -> [B, L, dimOut]. */
  forward(x: Tensor): Tensor {
    const be = backendOf(this.vb);
    const h = this.net_0.forward(x); // [B, L, inner]
    const out = this.net_2.forward(h); // [B, L, dimOut]
    be.release(h);
    return out;
  }
}

export interface BasicTransformerBlockConfig {
  dim: number;
  numAttentionHeads: number;
  attentionHeadDim: number;
  crossAttentionDim: number;
  /** attn1 also attends to the text instead of to x (diffusers only_cross_attention). */
  onlyCrossAttention?: boolean;
}

/** BasicTransformerBlock with norm_type "layer_norm": attn1 (self, or cross with onlyCrossAttention), attn2 (cross),
 * GEGLU feed-forward. */
export class BasicTransformerBlock {
  readonly norm1: LayerNorm;
  readonly attn1: Attention;
  readonly norm2: LayerNorm;
  readonly attn2: Attention;
  readonly norm3: LayerNorm;
  readonly ff: FeedForward;

  constructor(
    private readonly vb: VarBuilder,
    readonly config: BasicTransformerBlockConfig,
  ) {
    const { dim, numAttentionHeads: heads, attentionHeadDim: dimHead, crossAttentionDim } = config;
    this.norm1 = new LayerNorm(vb.pp('norm1'), dim, 1e-5);
    this.attn1 = config.onlyCrossAttention
      ? new Attention(vb.pp('attn1'), { queryDim: dim, crossAttentionDim, heads, dimHead })
      : new Attention(vb.pp('attn1'), { queryDim: dim, heads, dimHead });
    this.norm2 = new LayerNorm(vb.pp('norm2'), dim, 1e-5);
    this.attn2 = new Attention(vb.pp('attn2'), { queryDim: dim, crossAttentionDim, heads, dimHead });
    this.norm3 = new LayerNorm(vb.pp('norm3'), dim, 1e-5);
    this.ff = new FeedForward(vb.pp('ff'), dim);
  }

  /** x [B, L, dim], encoderHiddenStates [B, T, crossDim] -> [B, L, dim]. */
  forward(x: Tensor, encoderHiddenStates: Tensor): Tensor {
    const be = backendOf(this.vb);
    // 1. self-attention: x1 = x + attn1(LN1(x))  (keys from the text when onlyCrossAttention)
    const n1 = this.norm1.forward(x);
    const a1 = this.config.onlyCrossAttention ? this.attn1.forward(n1, encoderHiddenStates) : this.attn1.forward(n1);
    be.release(n1);
    const x1 = be.add(x, a1);
    be.release(a1);
    // 2. cross-attention on the text tokens: x2 = x1 + attn2(LN2(x1), ehs)
    const n2 = this.norm2.forward(x1);
    const a2 = this.attn2.forward(n2, encoderHiddenStates);
    be.release(n2);
    const x2 = be.add(x1, a2);
    be.release(a2);
    be.release(x1);
    // 3. feed-forward: out = x2 + ff(LN3(x2))
    const n3 = this.norm3.forward(x2);
    const f = this.ff.forward(n3);
    be.release(n3);
    const out = be.add(x2, f);
    be.release(f);
    be.release(x2);
    return out;
  }
}
