// Layout op wrappers: nearest upsample (shaders/upsample_nearest.wgsl), concat and slice as strided block copies
// (shaders/copy_axis.wgsl), and the NCHW <-> NLC tiled transposes (shaders/transpose.wgsl). Layout ops move values
// without arithmetic, so the output keeps the input's dtype (f32 or f16); concat of mixed dtypes gives f32, the
// lossless choice (f16 -> f32 is exact), so e.g. f32 latents concatenated with f16 image latents lose nothing.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import { assertShape, type DType } from '../ops.ts';
import { aroundAxis, concatShape, sliceShape, transposeGrid, upsampleShape } from '../counting/shapes.ts';
import { grid1d } from './grid.ts';

export const upsampleSpec: KernelSpec = {
  shader: 'upsample_nearest',
  bindings: ['x', 'y'],
  outputs: ['y'],
  activations: ['x', 'y'],
  params: [['n', 'u32'], ['H', 'u32'], ['W', 'u32'], ['outH', 'u32'], ['outW', 'u32'], ['row', 'u32']],
  workgroupSize: 256,
};

export const copyAxisSpec: KernelSpec = {
  shader: 'copy_axis',
  bindings: ['x', 'y'],
  outputs: ['y'],
  activations: ['x', 'y'],
  params: [['n', 'u32'], ['blk', 'u32'], ['srcRow', 'u32'], ['srcOff', 'u32'], ['dstRow', 'u32'], ['dstOff', 'u32'], ['row', 'u32']],
  workgroupSize: 256,
};

export const transposeSpec: KernelSpec = {
  shader: 'transpose',
  bindings: ['x', 'y'],
  outputs: ['y'],
  activations: ['x', 'y'],
  params: [['R', 'u32'], ['K', 'u32']],
  workgroupSize: 256,
};

/** The dtype of a concatenation: the inputs' common dtype, or f32 when they differ. */
export function concatDtype(xs: readonly { dtype: DType }[]): DType {
  return xs.every((t) => t.dtype === 'f16') ? 'f16' : 'f32';
}

/** x [N,C,H,W] -> [N,C,outH,outW], src = floor(dst * in / out). */
export function upsampleNearest(rt: GpuRuntime, x: GpuTensor, outH: number, outW: number): GpuTensor {
  const shape = upsampleShape(x, outH, outW);
  const [, , H, W] = x.shape;
  const y = rt.empty(shape, x.dtype);
  const { groups, row } = grid1d(y.size, 256);
  rt.dispatch(upsampleSpec, [x, y], { n: y.size, H, W, outH, outW, row }, groups);
  return y;
}

// Copies `outer` runs of `blk` elements from x (row length srcRow, at srcOff) into y (row dstRow, at dstOff).
function copyBlock(rt: GpuRuntime, x: GpuTensor, y: GpuTensor, outer: number, blk: number, src: [number, number], dst: [number, number]): void {
  const n = outer * blk;
  const { groups, row } = grid1d(n, 256);
  rt.dispatch(copyAxisSpec, [x, y], { n, blk, srcRow: src[0], srcOff: src[1], dstRow: dst[0], dstOff: dst[1], row }, groups);
}

/** Concatenation along `axis` of tensors equal in every other dim. */
export function concat(rt: GpuRuntime, xs: GpuTensor[], axis: number): GpuTensor {
  const shape = concatShape(xs, axis);
  const { outer, inner, size: total } = aroundAxis(shape, axis);
  const y = rt.empty(shape, concatDtype(xs));
  let offset = 0; // where along the axis the current input starts
  for (const t of xs) {
    const len = t.shape[axis];
    copyBlock(rt, t, y, outer, len * inner, [len * inner, 0], [total * inner, offset * inner]);
    offset += len;
  }
  return y;
}

/** x[..., start:end, ...] along `axis`. */
export function slice(rt: GpuRuntime, x: GpuTensor, axis: number, start: number, end: number): GpuTensor {
  const shape = sliceShape(x, axis, start, end);
  const { outer, size, inner } = aroundAxis(x.shape, axis);
  const y = rt.empty(shape, x.dtype);
  copyBlock(rt, x, y, outer, (end - start) * inner, [size * inner, start * inner], [(end - start) * inner, 0]);
  return y;
}

// x [N, R, K] -> y [N, K, R] in 32x32 tiles.
function transpose(rt: GpuRuntime, x: GpuTensor, y: GpuTensor, N: number, R: number, K: number): void {
  rt.dispatch(transposeSpec, [x, y], { R, K }, transposeGrid(N, R, K));
}

/** [N,C,H,W] -> [N,H*W,C]. */
export function nchwToNlc(rt: GpuRuntime, x: GpuTensor): GpuTensor {
  assertShape('nchwToNlc x', x, 4);
  const [N, C, H, W] = x.shape;
  const y = rt.empty([N, H * W, C], x.dtype);
  transpose(rt, x, y, N, C, H * W);
  return y;
}

/** [N,H*W,C] -> [N,C,H,W]. */
export function nlcToNchw(rt: GpuRuntime, x: GpuTensor, h: number, w: number): GpuTensor {
  assertShape('nlcToNchw x', x, 3);
  const [N, L, C] = x.shape;
  if (L !== h * w) throw new Error(`nlcToNchw: ${L} positions is not ${h}x${w}`);
  const y = rt.empty([N, C, h, w], x.dtype);
  transpose(rt, x, y, N, L, C);
  return y;
}
