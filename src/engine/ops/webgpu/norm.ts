// STUB: to be replaced by the group_norm / layer_norm kernel wrappers.
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import type { GroupNormOptions } from '../ops.ts';
export function groupNorm(_rt: GpuRuntime, _x: GpuTensor, _g: GpuTensor, _b: GpuTensor, _o: GroupNormOptions): GpuTensor {
  throw new Error('groupNorm: not implemented yet');
}
export function layerNorm(_rt: GpuRuntime, _x: GpuTensor, _g: GpuTensor, _b: GpuTensor, _eps: number): GpuTensor {
  throw new Error('layerNorm: not implemented yet');
}
