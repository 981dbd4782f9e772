// diffusers' Attention module with its default processor, projections fused: q|k|v (self) or k|v (cross) from one
// linear, multi-head scaled dot-product attention reading them in place, output projection; optionally a GroupNorm
// on the input, a residual and an output rescale (the VAE mid-block form). Works on tokens [B, L, C] or, like
// diffusers, on NCHW maps (flattened to H*W tokens and back).
import type { LinearOptions, Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { backendOf, GroupNorm, type LayerNorm, Linear, StackedLinear } from './layers.ts';

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

/** Cross-attention K|V of one encoder_hidden_states tensor, kept while caching is on. */
interface KVCache {
  ehs: Tensor;
  kv: Tensor;
}

export class Attention {
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  /** to_out.0 (to_out.1 is dropout). */
  readonly to_out: Linear;
  /**
   * diffusers' fused projections (Attention.fuse_projections), stacked at load: to_q|to_k|to_v for self-attention,
   * to_k|to_v for cross-attention (the other is null; both are null when built without a backend).
   */
  readonly to_qkv: StackedLinear | null;
  readonly to_kv: StackedLinear | null;
  readonly group_norm: GroupNorm | null;
  readonly heads: number;
  readonly dimHead: number;
  readonly scale: number;
  readonly residualConnection: boolean;
  readonly rescaleOutputFactor: number;
  /** With caching on, cross-attention keeps K|V of the last encoder_hidden_states tensor it saw. */
  private caching = false;
  private kv: KVCache | null = null;

  constructor(
    private readonly vb: VarBuilder,
    p: AttentionParams,
  ) {
    const inner = p.heads * p.dimHead;
    const cross = p.crossAttentionDim != null;
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
    this.to_qkv = vb.backend && !cross ? new StackedLinear(vb, [this.to_q, this.to_k, this.to_v]) : null;
    this.to_kv = vb.backend && cross ? new StackedLinear(vb, [this.to_k, this.to_v]) : null;
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
    backendOf(this.vb).release(this.kv.kv);
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
    // 2-3. projections, then softmax(q k^T * dimHead^-0.5) v per head -> [B, L, heads*dimHead]
    const ehs = encoderHiddenStates;
    const a = this.to_qkv ? this.selfAttention(tokens, ehs, layerNorm) : this.crossAttention(tokens, ehs, layerNorm);
    if (tokens !== x) be.release(tokens);
    // 4. output projection (+ the caller's residual)
    let out = this.to_out.forward(a, { residual: o.residual }); // [B, L, C]
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

  /** tokens [B, L, C] -> q|k|v [B, L, 3*inner] in one projection -> attention read from it in place. */
  private selfAttention(tokens: Tensor, ehs: Tensor | null, layerNorm: LinearOptions['layerNorm']): Tensor {
    if (ehs) throw new Error(`${this.vb.path}: a self-attention (no cross_attention_dim) given encoder_hidden_states`);
    const be = backendOf(this.vb);
    const qkv = this.to_qkv!.forward(tokens, { layerNorm }); // [B, L, 3*inner]
    const a = be.attention(qkv, qkv, qkv, { heads: this.heads, scale: this.scale, packed: 'qkv' }); // [B, L, inner]
    be.release(qkv);
    return a;
  }

  /** q from the tokens, k|v [B, S, 2*inner] from the text (cached across steps when asked) -> attention. */
  private crossAttention(tokens: Tensor, ehs: Tensor | null, layerNorm: LinearOptions['layerNorm']): Tensor {
    const be = backendOf(this.vb);
    const q = this.to_q.forward(tokens, { layerNorm }); // [B, L, inner]
    const { kv, cached } = ehs ? this.crossKV(ehs) : { kv: this.to_kv!.forward(tokens, { layerNorm }), cached: false };
    const a = be.attention(q, kv, kv, { heads: this.heads, scale: this.scale, packed: 'kv' }); // [B, L, inner]
    be.release(q);
    if (!cached) be.release(kv);
    return a;
  }

  /** K|V of the text: the cached tensor for this encoder_hidden_states, or a new one (kept while caching). */
  private crossKV(ehs: Tensor): { kv: Tensor; cached: boolean } {
    if (this.kv?.ehs === ehs) return { kv: this.kv.kv, cached: true };
    const kv = this.to_kv!.forward(ehs); // [B, S, 2*inner]
    if (!this.caching) return { kv, cached: false };
    this.dropCache();
    this.kv = { ehs, kv };
    return { kv, cached: true };
  }
}
