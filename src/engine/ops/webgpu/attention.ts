// STUB: to be replaced by the attention / softmax kernel wrappers.
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import type { AttentionOptions } from '../ops.ts';
export function attention(_rt: GpuRuntime, _q: GpuTensor, _k: GpuTensor, _v: GpuTensor, _o: AttentionOptions): GpuTensor {
  throw new Error('attention: not implemented yet');
}
export function softmax(_rt: GpuRuntime, _x: GpuTensor): GpuTensor {
  throw new Error('softmax: not implemented yet');
}
