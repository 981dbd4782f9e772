// The op vocabulary every model is written against. Two backends implement it: cpu/ (a plain TypeScript
// reference, the ground truth for kernel tests) and webgpu/ (WGSL kernels). Ops are synchronous to call: the
// WebGPU backend records dispatches and submits them in one batch on flush()/read().
//
// Layout conventions: images and feature maps are NCHW; token sequences are [B, L, C] (row-major, C fastest);
// linear weights are [out, in] as in PyTorch; conv weights [Cout, Cin, kh, kw].

export type DType = 'f32' | 'f16';

export interface Tensor {
  readonly shape: readonly number[];
  /** Storage type. Activations are f32 for now; weights may be stored as f16. */
  readonly dtype: DType;
}

/** Host-side weight data: f32 values, or f16 as raw IEEE half bits. */
export type WeightData = { dtype: 'f32'; data: Float32Array } | { dtype: 'f16'; data: Uint16Array };

export interface Conv2dOptions {
  stride?: number; // default 1
  /** [top, bottom, left, right] zero padding; default: kernel_size / 2 on every side ("same" for odd kernels). */
  pad?: readonly [number, number, number, number];
  /** x holds tokens [N, H*W, Cin] (NLC) of an H x W map instead of NCHW (a transformer's proj_out). */
  inputTokens?: readonly [number, number];
  /** Nearest-neighbour resize of x to [outH, outW] (src = floor(dst * in / out)) inside the gather: Upsample2D
   * without the upsampled copy. Stride and padding apply to the resized map. */
  upsample?: readonly [number, number];
  /** Write y as tokens [N, Ho*Wo, Cout] (NLC) instead of NCHW (a transformer's proj_in). */
  outputTokens?: boolean;
  /** Epilogue: y[n, c, ...] += channelBias (a per-item channel bias: the resnet's time embedding). */
  channelBias?: ChannelBias;
  /** Epilogue: y += residual, a tensor of y's shape and layout (a skip connection). */
  residual?: Tensor;
}

/** y[n, c, ...] += table[n, offset + c]: row n of a [N, S] table from column `offset` (S >= offset + Cout). */
export interface ChannelBias {
  table: Tensor;
  offset: number;
}

export interface LinearOptions {
  /** Prologue: x's rows are layer-normalized (over K, as layerNorm) on load: the LayerNorm before the linear. */
  layerNorm?: { gamma: Tensor; beta: Tensor; eps: number };
  /** Epilogue: y += residual, a tensor of y's shape (a skip connection). */
  residual?: Tensor;
  /** GEGLU epilogue: w [2D, K], b [2D]; y [..., D] = h[..., :D] * gelu(h[..., D:]) with h = x w^T + b. */
  geglu?: boolean;
}

/** One term of lincomb: coef * t, or coef * t[batch] (one entry along dim 0) when batch is given. */
export interface LincombTerm {
  t: Tensor;
  coef: number;
  batch?: number;
}

export interface GroupNormOptions {
  groups: number;
  eps: number;
  /** Apply SiLU after the affine transform (fused GroupNorm + SiLU). */
  silu?: boolean;
}

export interface AttentionOptions {
  heads: number;
  /** Multiplies q.k; default head_dim ** -0.5. */
  scale?: number;
  /** Mask keys j > i (CLIP's causal mask). Requires Nq == Nk. */
  causal?: boolean;
  /**
   * Inputs packed by a fused projection, read in place. 'qkv': one tensor [B, L, 3C] passed as q, k and v (q in
   * channels 0..C-1, k in C..2C-1, v in 2C..3C-1). 'kv': q [B, Nq, C] and one tensor [B, Nk, 2C] passed as k and v
   * (k first). The output is [B, Nq, C] either way.
   */
  packed?: 'qkv' | 'kv';
}

export interface Backend {
  readonly name: string;

  // ---- tensors -------------------------------------------------------------------------------------------
  /** An f32 activation tensor from host data (copied). */
  fromArray(data: Float32Array, shape: readonly number[]): Tensor;
  /** A weight tensor; f16 data stays f16 in storage where the backend supports it. */
  weight(w: WeightData, shape: readonly number[]): Tensor;
  /** Reads a tensor back as f32 (flushes pending work). */
  read(t: Tensor): Promise<Float32Array>;
  /** Same storage, another shape with the same element count (no copy). */
  reshape(t: Tensor, shape: readonly number[]): Tensor;
  /** Frees the tensor's storage for reuse; the tensor must not be used afterwards. */
  release(t: Tensor): void;
  /** Submits recorded work (no-op on CPU). */
  flush(): Promise<void>;
  /** Flushes, then frees the memory cached for reuse (a GPU buffer pool): the pipeline calls it between stages. */
  releaseCached?(): Promise<void>;

  // ---- convolution and normalization ------------------------------------------------------------------------
  /** x [N,Cin,H,W], w [Cout,Cin,kh,kw], b [Cout] -> [N,Cout,Ho,Wo]. */
  conv2d(x: Tensor, w: Tensor, b: Tensor | null, o?: Conv2dOptions): Tensor;
  /** x [N,C,...spatial]: statistics per (n, group) over C/groups channels and all spatial positions. */
  groupNorm(x: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions): Tensor;
  /** x [..., C]: normalized over the last dim. */
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor;

  // ---- matrix products -------------------------------------------------------------------------------------
  /** x [..., K], w [N, K], b [N] -> [..., N] (PyTorch nn.Linear); options fuse an epilogue. */
  linear(x: Tensor, w: Tensor, b: Tensor | null, o?: LinearOptions): Tensor;
  /** a [B,M,K], b [B,K,N] -> [B,M,N]. */
  matmul(a: Tensor, b: Tensor): Tensor;
  /**
   * Multi-head scaled dot-product attention. q [B,Nq,H*D], k and v [B,Nk,H*D] -> [B,Nq,H*D] (or packed, see
   * AttentionOptions); head h uses channels h*D..(h+1)*D-1. Never materializes the full [B,H,Nq,Nk] score matrix
   * on the GPU.
   */
  attention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): Tensor;
  /** Softmax over the last dim. */
  softmax(x: Tensor): Tensor;

  // ---- element-wise ----------------------------------------------------------------------------------------
  silu(x: Tensor): Tensor;
  /** Exact erf GELU. */
  gelu(x: Tensor): Tensor;
  /** x * sigmoid(1.702 x). */
  quickGelu(x: Tensor): Tensor;
  /** x [..., 2C] -> [..., C]: first half * gelu(second half) (diffusers GEGLU after its projection). */
  geglu(x: Tensor): Tensor;
  exp(x: Tensor): Tensor;
  clamp(x: Tensor, lo: number, hi: number): Tensor;
  /** a + b, same shapes. */
  add(a: Tensor, b: Tensor): Tensor;
  /** a * b, same shapes. */
  mul(a: Tensor, b: Tensor): Tensor;
  /** x * s + t. */
  scale(x: Tensor, s: number, t?: number): Tensor;
  /** x [N,C,...spatial] + v [N,C] broadcast over the spatial dims (time embedding into a resnet). */
  addPerChannel(x: Tensor, v: Tensor): Tensor;
  /**
   * sum_i coef_i * term_i, evaluated in f32 and stored as f32 whatever the activation storage (the guidance
   * combine and scheduler steps): 1 to 4 terms, each t (or t[batch]) of one shape; the output has that shape,
   * with dim 0 = 1 where a batch entry was taken. Rounded like scale-then-add, term by term, in order.
   */
  lincomb(terms: readonly LincombTerm[]): Tensor;

  // ---- weights ---------------------------------------------------------------------------------------------
  /**
   * Weights of one dtype stacked along dim 0 ([N_i, ...rest] -> [sum N_i, ...rest]): the weight of a fused
   * projection, made once at load. The inputs are released (their layers must not run afterwards).
   */
  concatWeights(ws: readonly Tensor[]): Tensor;

  // ---- layout ----------------------------------------------------------------------------------------------
  /** Nearest-neighbour resize of x [N,C,H,W] to [N,C,outH,outW], PyTorch rule src = floor(dst * in / out). */
  upsampleNearest(x: Tensor, outH: number, outW: number): Tensor;
  /** Concatenation along `axis` of tensors equal in every other dim. */
  concat(xs: readonly Tensor[], axis: number): Tensor;
  /** x[..., start:end, ...] along `axis`. */
  slice(x: Tensor, axis: number, start: number, end: number): Tensor;
  /** [N,C,H,W] -> [N,H*W,C]. */
  nchwToNlc(x: Tensor): Tensor;
  /** [N,H*W,C] -> [N,C,H,W]. */
  nlcToNchw(x: Tensor, h: number, w: number): Tensor;

  // ---- embeddings and images -------------------------------------------------------------------------------
  /**
   * Sinusoidal timestep embedding of timesteps [N] (f32 values, may be fractional) -> [N, dim]
   * (diffusers get_timestep_embedding; with flipSinToCos the cos half comes first).
   */
  timestepEmbedding(timesteps: Float32Array, dim: number, flipSinToCos: boolean, freqShift: number): Tensor;
  /** ids [B*L] (row-major [B,L]) -> tokenTable[ids] + posTable[0..L-1]: [B, L, D]. */
  embedding(ids: Int32Array, batch: number, tokenTable: Tensor, posTable: Tensor): Tensor;
  /** HWC RGB u8 -> [1,3,H,W] f32 in [-1, 1] (x / 255 * 2 - 1). */
  imageToTensor(rgb: Uint8Array, h: number, w: number): Tensor;
  /** [1,3,H,W] -> HWC RGB u8: round_half_even(clamp(x / 2 + 0.5, 0, 1) * 255). */
  tensorToImage(x: Tensor): Promise<Uint8Array>;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

export function assertShape(what: string, t: Tensor, rank: number): void {
  if (t.shape.length !== rank) throw new Error(`${what}: expected rank ${rank}, got ${shapeStr(t.shape)}`);
}
