// The torch.nn building blocks every model file uses, each holding its weights from a VarBuilder scope.
// Attribute names follow PyTorch (weight, bias) so the safetensors key is the path walked.
import type { Backend, Conv2dOptions, Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';

export function backendOf(vb: VarBuilder): Backend {
  if (!vb.backend) throw new Error(`${vb.path || 'model'}: built without a backend (shape-only), cannot run forward()`);
  return vb.backend;
}

/** nn.Linear: weight [out, in], optional bias [out]. */
export class Linear {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    private readonly vb: VarBuilder,
    readonly inFeatures: number,
    readonly outFeatures: number,
    bias = true,
  ) {
    this.weight = vb.get('weight', [outFeatures, inFeatures]);
    this.bias = bias ? vb.get('bias', [outFeatures]) : null;
  }
  forward(x: Tensor): Tensor {
    return backendOf(this.vb).linear(x, this.weight, this.bias);
  }
}

/** nn.Conv2d: weight [out, in, k, k], bias [out]; padding symmetric unless `pad` is given. */
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
  forward(x: Tensor): Tensor {
    return backendOf(this.vb).conv2d(x, this.weight, this.bias, this.opts);
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
