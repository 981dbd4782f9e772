// diffusers' Attention module with its default processor: q/k/v projections, multi-head scaled dot-product
// attention, output projection; optionally a GroupNorm on the input, a residual and an output rescale (the VAE
// mid-block form). Works on tokens [B, L, C] or, like diffusers, on NCHW maps (flattened to H*W tokens and back).
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { backendOf, GroupNorm, Linear } from './layers.ts';

export interface AttentionParams {
  queryDim: number;
  /** Width of encoder_hidden_states for k/v; default queryDim (self-attention). */
  crossAttentionDim?: number | null;
  heads: number;
  dimHead: number;
  /** Bias on to_q/to_k/to_v (diffusers `bias`); default false. */
  bias?: boolean;
  /** Bias on to_out.0; default true. */
  outBias?: boolean;
  /** GroupNorm on the input with this many groups (VAE mid block); default none. */
  normNumGroups?: number | null;
  /** eps of that GroupNorm; default 1e-5. */
  eps?: number;
  /** Adds the input to the output; default false. */
  residualConnection?: boolean;
  /** The output is divided by this; default 1. */
  rescaleOutputFactor?: number;
  /** Softmax in f32 for half-precision compute; our kernels already accumulate in f32, so it changes nothing. */
  upcastAttention?: boolean;
}

export class Attention {
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  /** to_out.0 (to_out.1 is dropout). */
  readonly to_out: Linear;
  readonly group_norm: GroupNorm | null;
  readonly heads: number;
  readonly dimHead: number;
  readonly scale: number;
  readonly residualConnection: boolean;
  readonly rescaleOutputFactor: number;

  constructor(
    private readonly vb: VarBuilder,
    p: AttentionParams,
  ) {
    const inner = p.heads * p.dimHead;
    const kvDim = p.crossAttentionDim ?? p.queryDim;
    const bias = p.bias ?? false;
    // legacy VAE names (query/key/value/proj_attn) are mapped when loading (weights/diffusers.ts)
    const at = (name: string) => vb.pp(name);
    this.heads = p.heads;
    this.dimHead = p.dimHead;
    this.scale = p.dimHead ** -0.5;
    this.group_norm = p.normNumGroups ? new GroupNorm(vb.pp('group_norm'), p.normNumGroups, p.queryDim, p.eps ?? 1e-5) : null;
    this.to_q = new Linear(at('to_q'), p.queryDim, inner, bias);
    this.to_k = new Linear(at('to_k'), kvDim, inner, bias);
    this.to_v = new Linear(at('to_v'), kvDim, inner, bias);
    this.to_out = new Linear(at('to_out.0'), inner, p.queryDim, p.outBias ?? true);
    this.residualConnection = p.residualConnection ?? false;
    this.rescaleOutputFactor = p.rescaleOutputFactor ?? 1;
  }

  /**
   * x [B,L,C] or [B,C,H,W]; encoderHiddenStates [B,S,Ckv] (cross-attention) or null (self-attention).
   * Returns the same shape as x.
   */
  forward(x: Tensor, encoderHiddenStates: Tensor | null = null): Tensor {
    const be = backendOf(this.vb);
    const spatial = x.shape.length === 4;
    const h = spatial ? x.shape[2] : x.shape[1];
    const w = spatial ? x.shape[3] : 1;
    // 1. group norm over channels (channels-first view), then tokens [B, L, C]
    let tokens = x;
    if (this.group_norm) {
      const cf = spatial ? x : be.nlcToNchw(x, h, 1); // [B,C,H,W] or [B,C,L,1]
      const normed = this.group_norm.forward(cf);
      if (cf !== x) be.release(cf);
      tokens = be.nchwToNlc(normed); // [B, H*W, C]
      be.release(normed);
    } else if (spatial) {
      tokens = be.nchwToNlc(x); // [B, H*W, C]
    }
    // 2. projections; k and v from the text tokens in cross-attention
    const ctx = encoderHiddenStates ?? tokens;
    const q = this.to_q.forward(tokens); // [B, L, heads*dimHead]
    const k = this.to_k.forward(ctx); // [B, S, heads*dimHead]
    const v = this.to_v.forward(ctx); // [B, S, heads*dimHead]
    if (tokens !== x) be.release(tokens);
    // 3. softmax(q k^T * dimHead^-0.5) v per head
    const a = be.attention(q, k, v, { heads: this.heads, scale: this.scale }); // [B, L, heads*dimHead]
    be.release(q);
    be.release(k);
    be.release(v);
    // 4. output projection
    let out = this.to_out.forward(a); // [B, L, C]
    be.release(a);
    // 5. back to NCHW
    if (spatial) {
      const o = be.nlcToNchw(out, h, w); // [B, C, H, W]
      be.release(out);
      out = o;
    }
    // 6. residual and rescale
    if (this.residualConnection) {
      const r = be.add(out, x);
      be.release(out);
      out = r;
    }
    if (this.rescaleOutputFactor !== 1) {
      const s = be.scale(out, 1 / this.rescaleOutputFactor);
      be.release(out);
      out = s;
    }
    return out;
  }
}
