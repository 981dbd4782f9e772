// STUB: to be replaced by the conv2d kernel wrapper.
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import type { Conv2dOptions } from '../ops.ts';
export function conv2d(_rt: GpuRuntime, _x: GpuTensor, _w: GpuTensor, _b: GpuTensor | null, _o?: Conv2dOptions): GpuTensor {
  throw new Error('conv2d: not implemented yet');
}
