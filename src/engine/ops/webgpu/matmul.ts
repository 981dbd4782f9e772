// Linear layers and batched matrix products (shaders/linear.wgsl, shaders/matmul.wgsl): 64 x 64 output tiles,
// plus the small helpers the tiled GEMM wrappers share (dummy bias, binding-size check, tile grid).
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import { shapeStr } from '../ops.ts';
import { grid1d } from './grid.ts';

/** Output tile edge of the tiled GEMM kernels (linear, matmul, conv2d). */
export const TILE = 64;

export const linearSpec: KernelSpec = {
  shader: 'linear',
  bindings: ['x', 'w', 'bias', 'y'],
  outputs: ['y'],
  weights: ['w', 'bias'],
  params: [
    ['M', 'u32'],
    ['N', 'u32'],
    ['K', 'u32'],
    ['has_bias', 'u32'],
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

export function linear(rt: GpuRuntime, x: GpuTensor, w: GpuTensor, b: GpuTensor | null): GpuTensor {
  const K = x.shape[x.shape.length - 1];
  if (w.shape.length !== 2 || w.shape[1] !== K) {
    throw new Error(`linear: x ${shapeStr(x.shape)} needs w [N,${K}], got ${shapeStr(w.shape)}`);
  }
  const N = w.shape[0];
  if (b && (b.shape.length !== 1 || b.shape[0] !== N)) throw new Error(`linear: bias must be [${N}], got ${shapeStr(b.shape)}`);
  if (x.dtype !== 'f32') throw new Error('linear: x must be f32');
  const M = K === 0 ? 0 : x.size / K;
  const y = rt.empty([...x.shape.slice(0, -1), N]); // [..., K] -> [..., N]
  const bias = b ?? noBias(rt);
  checkBindings(rt, 'linear', { x, w, bias, y });
  const tilesN = Math.ceil(N / TILE);
  const tiles = Math.ceil(M / TILE) * tilesN;
  const { groups, row } = tileGrid(tiles);
  rt.dispatch(linearSpec, [x, w, bias, y], { M, N, K, has_bias: b ? 1 : 0, tiles_n: tilesN, tiles, row }, groups);
  return y;
}

export function matmul(rt: GpuRuntime, a: GpuTensor, b: GpuTensor): GpuTensor {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new Error(`matmul: needs a [B,M,K] and b [B,K,N], got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  if (a.dtype !== 'f32' || b.dtype !== 'f32') throw new Error('matmul: a and b must be f32');
  const [B, M, K] = a.shape;
  const N = b.shape[2];
  const y = rt.empty([B, M, N]); // [B,M,K] x [B,K,N] -> [B,M,N]
  checkBindings(rt, 'matmul', { a, b, y });
  const tilesN = Math.ceil(N / TILE);
  const tilesMN = Math.ceil(M / TILE) * tilesN;
  const tiles = B * tilesMN;
  const { groups, row } = tileGrid(tiles);
  rt.dispatch(matmulSpec, [a, b, y], { M, N, K, tiles_n: tilesN, tiles_mn: tilesMN, tiles, row }, groups);
  return y;
}
