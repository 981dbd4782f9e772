// STUB: to be replaced by the linear / matmul kernel wrappers.
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
export function linear(_rt: GpuRuntime, _x: GpuTensor, _w: GpuTensor, _b: GpuTensor | null): GpuTensor {
  throw new Error('linear: not implemented yet');
}
export function matmul(_rt: GpuRuntime, _a: GpuTensor, _b: GpuTensor): GpuTensor {
  throw new Error('matmul: not implemented yet');
}
