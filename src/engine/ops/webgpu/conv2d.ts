// 2-D convolution (shaders/conv2d.wgsl): an implicit GEMM over output pixels x output channels, 64 x 64 tiles.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import { shapeStr, type Conv2dOptions } from '../ops.ts';
import { checkBindings, noBias, TILE, tileGrid } from './matmul.ts';

export const conv2dSpec: KernelSpec = {
  shader: 'conv2d',
  bindings: ['x', 'w', 'bias', 'y'],
  outputs: ['y'],
  weights: ['w', 'bias'],
  params: [
    ['cin', 'u32'],
    ['h', 'u32'],
    ['w', 'u32'],
    ['cout', 'u32'],
    ['ho', 'u32'],
    ['wo', 'u32'],
    ['kh', 'u32'],
    ['kw', 'u32'],
    ['stride', 'u32'],
    ['pad_t', 'u32'],
    ['pad_l', 'u32'],
    ['M', 'u32'],
    ['K', 'u32'],
    ['has_bias', 'u32'],
    ['tiles_n', 'u32'],
    ['tiles', 'u32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

/** x [N,Cin,H,W], w [Cout,Cin,kh,kw], b [Cout] -> [N,Cout,Ho,Wo], Ho = floor((H + pt + pb - kh) / stride) + 1. */
export function conv2d(rt: GpuRuntime, x: GpuTensor, w: GpuTensor, b: GpuTensor | null, o: Conv2dOptions = {}): GpuTensor {
  if (x.shape.length !== 4 || w.shape.length !== 4 || w.shape[1] !== x.shape[1]) {
    throw new Error(`conv2d: needs x [N,Cin,H,W] and w [Cout,Cin,kh,kw], got ${shapeStr(x.shape)} and ${shapeStr(w.shape)}`);
  }
  if (x.dtype !== 'f32') throw new Error('conv2d: x must be f32');
  const [n, cin, h, wd] = x.shape;
  const [cout, , kh, kw] = w.shape;
  if (b && (b.shape.length !== 1 || b.shape[0] !== cout)) throw new Error(`conv2d: bias must be [${cout}], got ${shapeStr(b.shape)}`);
  const stride = o.stride ?? 1;
  const [pt, pb, pl, pr] = o.pad ?? [kh >> 1, kh >> 1, kw >> 1, kw >> 1];
  if (!Number.isInteger(stride) || stride < 1 || [pt, pb, pl, pr].some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`conv2d: bad stride ${stride} or padding [${pt},${pb},${pl},${pr}]`);
  }
  const ho = Math.floor((h + pt + pb - kh) / stride) + 1;
  const wo = Math.floor((wd + pl + pr - kw) / stride) + 1;
  if (ho <= 0 || wo <= 0) throw new Error(`conv2d: empty output ${ho}x${wo} for x ${shapeStr(x.shape)}`);

  const y = rt.empty([n, cout, ho, wo]); // [N,Cin,H,W] -> [N,Cout,Ho,Wo]
  const bias = b ?? noBias(rt);
  checkBindings(rt, 'conv2d', { x, w, bias, y });
  const M = n * ho * wo;
  const tilesN = Math.ceil(cout / TILE);
  const tiles = Math.ceil(M / TILE) * tilesN;
  const { groups, row } = tileGrid(tiles);
  rt.dispatch(
    conv2dSpec,
    [x, w, bias, y],
    {
      cin, h, w: wd, cout, ho, wo, kh, kw, stride, pad_t: pt, pad_l: pl,
      M, K: cin * kh * kw, has_bias: b ? 1 : 0, tiles_n: tilesN, tiles, row,
    },
    groups,
  );
  return y;
}
