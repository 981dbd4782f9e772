// 2-D convolution (shaders/conv2d.wgsl): an implicit GEMM over output pixels x output channels, 64 x 64 tiles,
// with the layout changes (NLC tokens in or out), the nearest upsample and the epilogue adds folded in.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import type { Conv2dOptions } from '../ops.ts';
import { conv2dGeometry } from '../counting/shapes.ts';
import { checkBindings, noBias, TILE, tileGrid } from './matmul.ts';

export const conv2dSpec: KernelSpec = {
  shader: 'conv2d',
  bindings: ['x', 'w', 'bias', 'cb', 'res', 'y'],
  outputs: ['y'],
  weights: ['w', 'bias'],
  activations: ['x', 'cb', 'res', 'y'],
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
    ['uh', 'u32'],
    ['uw', 'u32'],
    ['up', 'u32'],
    ['x_cs', 'u32'],
    ['x_ps', 'u32'],
    ['y_cs', 'u32'],
    ['y_ps', 'u32'],
    ['M', 'u32'],
    ['K', 'u32'],
    ['has_bias', 'u32'],
    ['has_cb', 'u32'],
    ['cb_row', 'u32'],
    ['cb_off', 'u32'],
    ['has_res', 'u32'],
    ['tiles_n', 'u32'],
    ['tiles', 'u32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

/**
 * x [N,Cin,H,W] (or tokens [N,H*W,Cin]), w [Cout,Cin,kh,kw], b [Cout] -> [N,Cout,Ho,Wo] (or [N,Ho*Wo,Cout]),
 * Ho = floor((H' + pt + pb - kh) / stride) + 1 with H' the upsampled height.
 */
export function conv2d(
  rt: GpuRuntime,
  x: GpuTensor,
  w: GpuTensor,
  b: GpuTensor | null,
  o: Conv2dOptions = {},
  cb: GpuTensor | null = null,
  res: GpuTensor | null = null,
): GpuTensor {
  const g = conv2dGeometry(x, w, b, o);
  const plane = g.ho * g.wo;
  const y = rt.empty(g.shape, rt.activationDtype); // [N,Cin,H,W] -> [N,Cout,Ho,Wo] (or tokens)
  const dummy = noBias(rt);
  const [bias, table, residual] = [b ?? dummy, cb ?? dummy, res ?? dummy];
  checkBindings(rt, 'conv2d', { x, w, bias, cb: table, res: residual, y });
  const M = g.n * plane;
  const tilesN = Math.ceil(g.cout / TILE);
  const tiles = Math.ceil(M / TILE) * tilesN;
  const { groups, row } = tileGrid(tiles);
  const xTokens = !!o.inputTokens;
  rt.dispatch(
    conv2dSpec,
    [x, w, bias, table, residual, y],
    {
      cin: g.cin, h: g.h, w: g.w, cout: g.cout, ho: g.ho, wo: g.wo, kh: g.kh, kw: g.kw, stride: g.stride,
      pad_t: g.pad[0], pad_l: g.pad[2], uh: g.uh, uw: g.uw, up: o.upsample ? 1 : 0,
      x_cs: xTokens ? 1 : g.h * g.w, x_ps: xTokens ? g.cin : 1,
      y_cs: o.outputTokens ? 1 : plane, y_ps: o.outputTokens ? g.cout : 1,
      M, K: g.cin * g.kh * g.kw, has_bias: b ? 1 : 0,
      has_cb: cb ? 1 : 0, cb_row: cb ? cb.shape[1] : 0, cb_off: o.channelBias?.offset ?? 0, has_res: res ? 1 : 0,
      tiles_n: tilesN, tiles, row,
    },
    groups,
  );
  return y;
}
