// STUB: to be replaced by the geglu kernel wrapper.
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
export function geglu(_rt: GpuRuntime, _x: GpuTensor): GpuTensor {
  throw new Error('geglu: not implemented yet');
}
