// Linear layers and batched matrix products (shaders/linear.wgsl, shaders/matmul.wgsl): 64 x 64 output tiles,
// the fused weights of stacked projections (shaders/concat_weights.wgsl), and the small helpers the tiled GEMM
// wrappers share (dummy bias, binding-size check, tile grid).
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import { numel, shapeStr, type LinearOptions } from '../ops.ts';
import { concatWeightsShape, linearGeometry } from '../counting/shapes.ts';
import { grid1d } from './grid.ts';

/** Output tile edge of the tiled GEMM kernels (linear, matmul, conv2d). */
export const TILE = 64;

export const linearSpec: KernelSpec = {
  shader: 'linear',
  bindings: ['x', 'w', 'bias', 'gamma', 'beta', 'res', 'y'],
  outputs: ['y'],
  weights: ['w', 'bias', 'gamma', 'beta'],
  activations: ['x', 'res', 'y'],
  params: [
    ['M', 'u32'],
    ['N', 'u32'],
    ['K', 'u32'],
    ['D', 'u32'],
    ['geglu', 'u32'],
    ['has_bias', 'u32'],
    ['has_ln', 'u32'],
    ['eps', 'f32'],
    ['has_res', 'u32'],
    ['tiles_n', 'u32'],
    ['tiles', 'u32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

export const matmulSpec: KernelSpec = {
  shader: 'matmul',
  bindings: ['a', 'b', 'y'],
  outputs: ['y'],
  activations: ['a', 'b', 'y'],
  params: [
    ['M', 'u32'],
    ['N', 'u32'],
    ['K', 'u32'],
    ['tiles_n', 'u32'],
    ['tiles_mn', 'u32'],
    ['tiles', 'u32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

export const concatWeightsSpec: KernelSpec = {
  shader: 'concat_weights',
  bindings: ['x', 'y'],
  outputs: ['y'],
  params: [
    ['n', 'u32'],
    ['dst', 'u32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

const dummies = new WeakMap<GpuRuntime, GpuTensor>();

/** A 16-byte zero buffer bound where an op has no bias (the kernel is told has_bias = 0 and never reads it). */
export function noBias(rt: GpuRuntime): GpuTensor {
  let d = dummies.get(rt);
  if (!d) dummies.set(rt, (d = rt.upload(new Float32Array(4), [4], 'f32')));
  return d;
}

/** Every tensor is bound whole: each must fit the adapter's maxStorageBufferBindingSize. */
export function checkBindings(rt: GpuRuntime, op: string, ts: Record<string, GpuTensor>): void {
  const limit = rt.ctx.limits.maxStorageBufferBindingSize;
  for (const [name, t] of Object.entries(ts)) {
    if (t.buffer.size > limit) {
      throw new Error(`${op}: ${name} ${shapeStr(t.shape)} is ${t.buffer.size} bytes, over this adapter's ` +
        `maxStorageBufferBindingSize ${limit}`);
    }
  }
}

/** The folded grid for `tiles` workgroups: counts per dimension and workgroups per grid row. */
export function tileGrid(tiles: number): { groups: [number, number]; row: number } {
  return grid1d(tiles, 1);
}

/** The GPU tensors behind LinearOptions (the options hold backend-neutral tensors). */
export interface LinearInputs {
  res: GpuTensor | null;
  ln: { gamma: GpuTensor; beta: GpuTensor; eps: number } | null;
}

/**
 * x [..., K], w [N, K], b [N] -> [..., N] (or [..., N/2] with the GEGLU epilogue); x rows optionally
 * layer-normalized on load, a residual optionally added.
 */
export function linear(rt: GpuRuntime, x: GpuTensor, w: GpuTensor, b: GpuTensor | null, o: LinearOptions = {}, e: LinearInputs = { res: null, ln: null }): GpuTensor {
  const { shape, M, N, K } = linearGeometry(x, w, b, o);
  const D = shape[shape.length - 1];
  const y = rt.empty(shape, rt.activationDtype); // [..., K] -> [..., D]
  const dummy = noBias(rt);
  const [bias, gamma, beta, res] = [b ?? dummy, e.ln?.gamma ?? dummy, e.ln?.beta ?? dummy, e.res ?? dummy];
  checkBindings(rt, 'linear', { x, w, bias, gamma, beta, res, y });
  const tilesN = Math.ceil(D / (o.geglu ? TILE / 2 : TILE));
  const tiles = Math.ceil(M / TILE) * tilesN;
  const { groups, row } = tileGrid(tiles);
  rt.dispatch(
    linearSpec,
    [x, w, bias, gamma, beta, res, y],
    {
      M, N, K, D, geglu: o.geglu ? 1 : 0, has_bias: b ? 1 : 0, has_ln: e.ln ? 1 : 0, eps: e.ln?.eps ?? 0,
      has_res: e.res ? 1 : 0, tiles_n: tilesN, tiles, row,
    },
    groups,
  );
  return y;
}

/** Weights stacked along dim 0 into a new weight of their dtype: one word copy per part; the parts are released. */
export function concatWeights(rt: GpuRuntime, ws: readonly GpuTensor[]): GpuTensor {
  const shape = concatWeightsShape(ws);
  const y = rt.empty(shape, ws[0].dtype);
  const wordsOf = (t: GpuTensor) => (numel(t.shape) * (t.dtype === 'f16' ? 2 : 4)) / 4;
  let dst = 0;
  for (const t of ws) {
    const n = wordsOf(t);
    const { groups, row } = grid1d(n, 256);
    rt.dispatch(concatWeightsSpec, [t, y], { n, dst, row }, n === 0 ? [0] : groups);
    dst += n;
  }
  for (const t of ws) rt.release(t);
  return y;
}

export function matmul(rt: GpuRuntime, a: GpuTensor, b: GpuTensor): GpuTensor {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new Error(`matmul: needs a [B,M,K] and b [B,K,N], got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  const [B, M, K] = a.shape;
  const N = b.shape[2];
  const y = rt.empty([B, M, N], rt.activationDtype); // [B,M,K] x [B,K,N] -> [B,M,N]
  checkBindings(rt, 'matmul', { a, b, y });
  const tilesN = Math.ceil(N / TILE);
  const tilesMN = Math.ceil(M / TILE) * tilesN;
  const tiles = B * tilesMN;
  const { groups, row } = tileGrid(tiles);
  rt.dispatch(matmulSpec, [a, b, y], { M, N, K, tiles_n: tilesN, tiles_mn: tilesMN, tiles, row }, groups);
  return y;
}
