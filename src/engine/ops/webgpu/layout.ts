// STUB: to be replaced by the upsample / concat / slice / transpose kernel wrappers.
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
export function upsampleNearest(_rt: GpuRuntime, _x: GpuTensor, _h: number, _w: number): GpuTensor {
  throw new Error('upsampleNearest: not implemented yet');
}
export function concat(_rt: GpuRuntime, _xs: GpuTensor[], _axis: number): GpuTensor {
  throw new Error('concat: not implemented yet');
}
export function slice(_rt: GpuRuntime, _x: GpuTensor, _axis: number, _s: number, _e: number): GpuTensor {
  throw new Error('slice: not implemented yet');
}
export function nchwToNlc(_rt: GpuRuntime, _x: GpuTensor): GpuTensor {
  throw new Error('nchwToNlc: not implemented yet');
}
export function nlcToNchw(_rt: GpuRuntime, _x: GpuTensor, _h: number, _w: number): GpuTensor {
  throw new Error('nlcToNchw: not implemented yet');
}
