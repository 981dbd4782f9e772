// The transformer layer inside every Transformer2DModel (diffusers attention.py): self-attention, cross-attention
// on the text tokens, and the GEGLU feed-forward, each pre-LayerNorm with a residual add.
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { asPrologue, Attention } from './attention_processor.ts';
import { backendOf, LayerNorm, Linear } from './layers.ts';

/** GEGLU: proj to 2*dimOut, then first half * gelu(second half) (the GELU gate is the projection's epilogue). */
export class GEGLU {
  readonly proj: Linear;
  constructor(
    vb: VarBuilder,
    readonly dimIn: number,
    readonly dimOut: number,
  ) {
    this.proj = new Linear(vb.pp('proj'), dimIn, dimOut * 2);
  }

  /**
   * x [B, L, dimIn] -> h = proj(x) [B, L, 2*dimOut] -> h[..., :dimOut] * gelu(h[..., dimOut:]) [B, L, dimOut];
   * x is first normalized by `norm` when given (inside the projection).
   */
  forward(x: Tensor, norm: LayerNorm | null = null): Tensor {
    return this.proj.forward(x, { geglu: true, layerNorm: asPrologue(norm) });
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

  /** x [B, L, dim] -> [B, L, dimOut]: ff(norm(x)) + residual, the norm and the add fused into the linears. */
  forward(x: Tensor, o: { norm?: LayerNorm; residual?: Tensor } = {}): Tensor {
    const be = backendOf(this.vb);
    const h = this.net_0.forward(x, o.norm); // [B, L, inner]
    const out = this.net_2.forward(h, { residual: o.residual }); // [B, L, dimOut]
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
    // Each LayerNorm runs inside the projections that read it and each residual add inside the last linear.
    // 1. self-attention: x1 = x + attn1(LN1(x))  (keys from the text when onlyCrossAttention)
    const ctx = this.config.onlyCrossAttention ? encoderHiddenStates : null;
    const x1 = this.attn1.forward(x, ctx, { norm: this.norm1, residual: x });
    // 2. cross-attention on the text tokens: x2 = x1 + attn2(LN2(x1), ehs)
    const x2 = this.attn2.forward(x1, encoderHiddenStates, { norm: this.norm2, residual: x1 });
    be.release(x1);
    // 3. feed-forward: out = x2 + ff(LN3(x2))
    const out = this.ff.forward(x2, { norm: this.norm3, residual: x2 });
    be.release(x2);
    return out;
  }
}
