// The cost model of each op, in one place so the numbers the meter reports have one documented source.
//
// FLOPs count multiplies and adds separately (a multiply-add is 2), as the usual "TFLOP per UNet evaluation" figures
// do. The matrix products are exact; the cheap per-element ops are estimates of a few operations per element
// (they are well under 1% of an edit). Bias additions inside conv2d/linear are not counted; the fused epilogues
// (channel bias, residual, GEGLU) count what the separate ops they replace counted.
//
// Bytes are the compulsory traffic of one dispatch: every input and weight read once, every output written once,
// at its storage dtype (f32 4 bytes, f16 2). Tiled kernels re-read tiles from memory or cache, so real traffic is
// higher; this is the floor a kernel can reach.

/** conv2d x [N,Cin,H,W] * w [Cout,Cin,kh,kw] -> [N,Cout,Ho,Wo]: one multiply-add per output per kernel tap. */
export function conv2dFlops(n: number, cout: number, ho: number, wo: number, cin: number, kh: number, kw: number): number {
  return 2 * n * cout * ho * wo * cin * kh * kw;
}

/** [M,K] x [K,N] (linear: M rows of x, N = out features; matmul: per batch). */
export function gemmFlops(m: number, n: number, k: number): number {
  return 2 * m * n * k;
}

/** Softmax per score: scale, running max, subtract, exp, sum (the division is folded into the output). */
export const SOFTMAX_PER_SCORE = 5;

/**
 * Fused attention q [B,Nq,H*D], k/v [B,Nk,H*D]: q.k^T and p.v are 2 GEMMs of 2*Nq*Nk*D each per head, plus the
 * softmax on the Nq*Nk scores. Causal masking is counted as full (the kernel walks every key block).
 */
export function attentionFlops(b: number, h: number, nq: number, nk: number, d: number): number {
  return 4 * b * h * nq * nk * d + SOFTMAX_PER_SCORE * b * h * nq * nk;
}

/**
 * FLOPs per output element of the cheap ops. Norms: sum and sum of squares (2), subtract and scale (2), affine (2),
 * plus the per-group statistics amortized (~1); SiLU x / (1 + exp(-x)) ~4; exact-erf GELU via a polynomial erf ~8;
 * x * sigmoid(1.702 x) ~5; GEGLU = GELU of one half times the other; the embedding adds token and position rows.
 */
export const PER_ELEMENT = {
  groupNorm: 7,
  groupNormSilu: 11,
  layerNorm: 7,
  softmax: SOFTMAX_PER_SCORE,
  silu: 4,
  gelu: 8,
  quickGelu: 5,
  geglu: 9,
  exp: 1,
  clamp: 2,
  affine: 2,
  add: 1,
  mul: 1,
  addPerChannel: 1,
  /** per term: multiply and add */
  lincomb: 2,
  embedding: 1,
  imageToTensor: 2,
  tensorToImage: 5,
} as const;

/** Layout ops (concat, slice, transposes, upsample) move data and compute nothing. */
export const LAYOUT_FLOPS = 0;
