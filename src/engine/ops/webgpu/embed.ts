// STUB: to be replaced by the timestep / token embedding and image conversion kernel wrappers.
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
export function timestepEmbedding(_rt: GpuRuntime, _t: Float32Array, _dim: number, _flip: boolean, _shift: number): GpuTensor {
  throw new Error('timestepEmbedding: not implemented yet');
}
export function embedding(_rt: GpuRuntime, _ids: Int32Array, _batch: number, _tok: GpuTensor, _pos: GpuTensor): GpuTensor {
  throw new Error('embedding: not implemented yet');
}
export function imageToTensor(_rt: GpuRuntime, _rgb: Uint8Array, _h: number, _w: number): GpuTensor {
  throw new Error('imageToTensor: not implemented yet');
}
export function tensorToImage(_rt: GpuRuntime, _x: GpuTensor): Promise<Uint8Array> {
  throw new Error('tensorToImage: not implemented yet');
}
