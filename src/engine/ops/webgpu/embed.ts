// Embedding and image wrappers: token + position lookup (shaders/embedding.wgsl), u8 image -> tensor
// (shaders/image.wgsl) and back (shaders/image_out.wgsl), and the sinusoidal timestep embedding, computed on the
// host and uploaded. What they make is in rt.activationDtype; tensorToImage reads a tensor of either dtype.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import { assertShape, shapeStr } from '../ops.ts';
import { embeddingShape } from '../counting/shapes.ts';
import { grid1d } from './grid.ts';
import { timestepTable } from '../timestep.ts';
import { f32ToHalfBits } from '../../weights/f16.ts';

export const embeddingSpec: KernelSpec = {
  shader: 'embedding',
  bindings: ['ids', 'tok', 'pos', 'y'],
  outputs: ['y'],
  weights: ['tok', 'pos'],
  activations: ['y'],
  params: [['n', 'u32'], ['L', 'u32'], ['D', 'u32'], ['row', 'u32']],
  workgroupSize: 256,
};

export const imageSpec: KernelSpec = {
  shader: 'image',
  bindings: ['rgb', 'y'],
  outputs: ['y'],
  activations: ['y'],
  params: [['n', 'u32'], ['HW', 'u32'], ['row', 'u32']],
  workgroupSize: 256,
};

export const imageOutSpec: KernelSpec = {
  shader: 'image_out',
  bindings: ['x', 'rgb'],
  outputs: ['rgb'],
  activations: ['x'],
  params: [['n', 'u32'], ['HW', 'u32'], ['row', 'u32']],
  workgroupSize: 256,
};

/** timesteps [N] -> [N, dim], computed on the host (timestepTable) in f32 and uploaded in the activation dtype. */
export function timestepEmbedding(rt: GpuRuntime, t: Float32Array, dim: number, flip: boolean, shift: number): GpuTensor {
  const table = timestepTable(t, dim, flip, shift);
  if (rt.activationDtype === 'f16') return rt.upload(f32ToHalfBits(table), [t.length, dim], 'f16');
  return rt.upload(table, [t.length, dim], 'f32');
}

/** ids [B*L] -> tok[ids] + pos[0..L-1]: [B, L, D]; the tables may be f16. */
export function embedding(rt: GpuRuntime, ids: Int32Array, batch: number, tok: GpuTensor, pos: GpuTensor): GpuTensor {
  const [, L, D] = embeddingShape(ids, batch, tok, pos);
  const idBuf = rt.upload(new Uint32Array(ids.buffer, ids.byteOffset, ids.length), [ids.length], 'f32'); // u32 words
  const y = rt.empty([batch, L, D], rt.activationDtype);
  const { groups, row } = grid1d(y.size, 256);
  rt.dispatch(embeddingSpec, [idBuf, tok, pos, y], { n: y.size, L, D, row }, groups);
  rt.release(idBuf); // recorded dispatches keep their order, so a later reuse cannot overtake this read
  return y;
}

/** HWC RGB u8 -> [1,3,H,W] = u8 / 255 * 2 - 1, in the activation dtype. */
export function imageToTensor(rt: GpuRuntime, rgb: Uint8Array, h: number, w: number): GpuTensor {
  if (rgb.length !== h * w * 3) throw new Error(`imageToTensor: ${rgb.length} bytes for ${h}x${w}x3`);
  const words = new Uint32Array(Math.ceil(rgb.length / 4)); // four bytes per word, little-endian
  new Uint8Array(words.buffer).set(rgb);
  const packed = rt.upload(words, [words.length], 'f32');
  const y = rt.empty([1, 3, h, w], rt.activationDtype);
  const { groups, row } = grid1d(y.size, 256);
  rt.dispatch(imageSpec, [packed, y], { n: y.size, HW: h * w, row }, groups);
  rt.release(packed);
  return y;
}

/** [1,3,H,W] (f32 or f16) -> HWC RGB u8 = round_half_even(clamp(x / 2 + 0.5, 0, 1) * 255). */
export async function tensorToImage(rt: GpuRuntime, x: GpuTensor): Promise<Uint8Array> {
  assertShape('tensorToImage x', x, 4);
  const [N, C, H, W] = x.shape;
  if (N !== 1 || C !== 3) throw new Error(`tensorToImage: expected [1,3,H,W], got ${shapeStr(x.shape)}`);
  const bytes = H * W * 3;
  const nw = Math.ceil(bytes / 4);
  const packed = rt.empty([nw]); // u32 words of HWC bytes
  const { groups, row } = grid1d(nw, 256);
  rt.dispatch(imageOutSpec, [x, packed], { n: nw, HW: H * W, row }, groups);
  try {
    return new Uint8Array(await rt.readRaw(packed), 0, bytes);
  } finally {
    rt.release(packed);
  }
}
