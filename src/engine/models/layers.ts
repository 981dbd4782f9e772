// The torch.nn building blocks every model file uses, each holding its weights from a VarBuilder scope.
// Attribute names follow PyTorch (weight, bias) so the safetensors key is the path walked.
import type { Backend, Conv2dOptions, LinearOptions, Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';

export function backendOf(vb: VarBuilder): Backend {
  if (!vb.backend) throw new Error(`${vb.path || 'model'}: built without a backend (shape-only), cannot run forward()`);
  return vb.backend;
}

/** nn.Linear: weight [out, in], optional bias [out]; forward's options fuse a LayerNorm before or an epilogue after. */
export class Linear {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  /** Set when the weights moved into a StackedLinear: this layer must not run any more. */
  stackedInto: StackedLinear | null = null;
  constructor(
    private readonly vb: VarBuilder,
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    this.weight = vb.get('weight', [outFeatures, inFeatures]);
    this.bias = bias ? vb.get('bias', [outFeatures]) : null;
  }
  forward(x: Tensor, o?: LinearOptions): Tensor {
    if (this.stackedInto) throw new Error(`${this.vb.path}: its weights were stacked into a fused projection`);
    return backendOf(this.vb).linear(x, this.weight, this.bias, o);
  }
}

/**
 * Linears that read the same input, run as one GEMM: weights (and biases) stacked along the output dim once, at
 * load, so the output is theirs side by side, [..., sum of out features]. The parts keep the names their weights
 * were loaded under, but the tensors now live in the stack (concatWeights releases them).
 */
export class StackedLinear {
  readonly weight: Tensor; // [sum out, in]
  readonly bias: Tensor | null;
  readonly outFeatures: number;

  constructor(
    private readonly vb: VarBuilder,
    readonly parts: readonly Linear[],
  ) {
    const be = backendOf(vb);
    const biased = parts.filter((p) => p.bias).length;
    if (biased !== 0 && biased !== parts.length) throw new Error(`${vb.path}: stacked linears must all have a bias or none`);
    this.outFeatures = parts.reduce((n, p) => n + p.outFeatures, 0);
    this.weight = be.concatWeights(parts.map((p) => p.weight));
    this.bias = biased ? be.concatWeights(parts.map((p) => p.bias!)) : null;
    for (const p of parts) p.stackedInto = this;
  }

  /** x [..., in] -> [..., sum out]. */
  forward(x: Tensor, o?: LinearOptions): Tensor {
    return backendOf(this.vb).linear(x, this.weight, this.bias, o);
  }
}

/** nn.Conv2d: weight [out, in, k, k], bias [out]; padding symmetric unless `pad` is given. forward's options (token
 * layouts, upsample, channel bias, residual) add to the layer's stride and padding. */
export class Conv2d {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  private readonly opts: Conv2dOptions;
  constructor(
    private readonly vb: VarBuilder,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    o: { stride?: number; padding?: number; pad?: readonly [number, number, number, number]; bias?: boolean } = {},
  ) {
    this.weight = vb.get('weight', [outChannels, inChannels, kernelSize, kernelSize]);
    this.bias = o.bias === false ? null : vb.get('bias', [outChannels]);
    const p = o.padding ?? 0;
    this.opts = { stride: o.stride ?? 1, pad: o.pad ?? [p, p, p, p] };
  }
  forward(x: Tensor, o: Conv2dOptions = {}): Tensor {
    return backendOf(this.vb).conv2d(x, this.weight, this.bias, { ...this.opts, ...o });
  }
}

/** nn.GroupNorm (affine). silu=true fuses the SiLU that follows it in every ResNet block. */
export class GroupNorm {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    private readonly vb: VarBuilder,
    readonly groups: number,
    readonly channels: number,
    readonly eps: number,
  ) {
    this.weight = vb.get('weight', [channels]);
    this.bias = vb.get('bias', [channels]);
  }
  forward(x: Tensor, silu = false): Tensor {
    return backendOf(this.vb).groupNorm(x, this.weight, this.bias, { groups: this.groups, eps: this.eps, silu });
  }
}

/** nn.LayerNorm over the last dim (affine). */
export class LayerNorm {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    private readonly vb: VarBuilder,
    readonly dim: number,
    readonly eps: number,
  ) {
    this.weight = vb.get('weight', [dim]);
    this.bias = vb.get('bias', [dim]);
  }
  forward(x: Tensor): Tensor {
    return backendOf(this.vb).layerNorm(x, this.weight, this.bias, this.eps);
  }
}
