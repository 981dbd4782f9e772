// diffusers' Attention module with its default processor: q/k/v projections, multi-head scaled dot-product
// attention, output projection; optionally a GroupNorm on the input, a residual and an output rescale (the VAE
// mid-block form). Works on tokens [B, L, C] or, like diffusers, on NCHW maps (flattened to H*W tokens and back).
import type { LinearOptions, Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { backendOf, GroupNorm, type LayerNorm, Linear } from './layers.ts';

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

/** A LayerNorm run inside the linears that read its output (their prologue) instead of as its own op. */
export function asPrologue(norm: LayerNorm | null | undefined): LinearOptions['layerNorm'] {
  return norm ? { gamma: norm.weight, beta: norm.bias, eps: norm.eps } : undefined;
}

/** Cross-attention K and V of one encoder_hidden_states tensor, kept while caching is on. */
interface KVCache {
  ehs: Tensor;
  k: Tensor;
  v: Tensor;
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
  /** With caching on, cross-attention keeps K and V of the last encoder_hidden_states tensor it saw. */
  private caching = false;
  private kv: KVCache | null = null;

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
   * Cross-attention K and V depend only on encoder_hidden_states, which stay the same across denoising steps: with
   * caching on, they are computed on the first forward with a given tensor and reused while it is the one passed
   * (by identity). Turning caching off frees them.
   */
  cacheCrossAttention(on: boolean): void {
    this.caching = on;
    if (!on) this.dropCache();
  }

  private dropCache(): void {
    if (!this.kv) return;
    const be = backendOf(this.vb);
    be.release(this.kv.k);
    be.release(this.kv.v);
    this.kv = null;
  }

  /**
   * x [B,L,C] or [B,C,H,W]; encoderHiddenStates [B,S,Ckv] (cross-attention) or null (self-attention). Returns the
   * same shape as x. For token inputs, `norm` normalizes x first (inside the projections that read it) and
   * `residual` is added to the output (inside to_out): residual + attn(norm(x)).
   */
  forward(x: Tensor, encoderHiddenStates: Tensor | null = null, o: { norm?: LayerNorm; residual?: Tensor } = {}): Tensor {
    const be = backendOf(this.vb);
    const spatial = x.shape.length === 4;
    if (spatial && (o.residual || o.norm)) throw new Error(`${this.vb.path}: norm and residual are only fused for token inputs`);
    const layerNorm = asPrologue(o.norm);
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
    // 2. projections; k and v from the text tokens in cross-attention (cached across steps when asked)
    const q = be.linear(tokens, this.to_q.weight, this.to_q.bias, { layerNorm }); // [B, L, heads*dimHead]
    const { k, v, cached } = encoderHiddenStates ? this.crossKV(encoderHiddenStates) : this.projectKV(tokens, layerNorm); // [B, S, heads*dimHead]
    if (tokens !== x) be.release(tokens);
    // 3. softmax(q k^T * dimHead^-0.5) v per head
    const a = be.attention(q, k, v, { heads: this.heads, scale: this.scale }); // [B, L, heads*dimHead]
    be.release(q);
    if (!cached) {
      be.release(k);
      be.release(v);
    }
    // 4. output projection (+ the caller's residual)
    let out = be.linear(a, this.to_out.weight, this.to_out.bias, { residual: o.residual }); // [B, L, C]
    be.release(a);
    // 5. back to NCHW
    if (spatial) {
      const nchw = be.nlcToNchw(out, h, w); // [B, C, H, W]
      be.release(out);
      out = nchw;
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

  private projectKV(ctx: Tensor, layerNorm?: LinearOptions['layerNorm']): { k: Tensor; v: Tensor; cached: boolean } {
    const be = backendOf(this.vb);
    const k = be.linear(ctx, this.to_k.weight, this.to_k.bias, { layerNorm });
    const v = be.linear(ctx, this.to_v.weight, this.to_v.bias, { layerNorm });
    return { k, v, cached: false };
  }

  /** K and V of the text: the cached pair for this tensor, or new ones (kept in the cache while caching). */
  private crossKV(ehs: Tensor): { k: Tensor; v: Tensor; cached: boolean } {
    if (this.kv?.ehs === ehs) return { ...this.kv, cached: true };
    const kv = this.projectKV(ehs);
    if (!this.caching) return kv;
    this.dropCache();
    this.kv = { ehs, k: kv.k, v: kv.v };
    return { ...kv, cached: true };
  }
}
