// GEGLU wrapper (shaders/geglu.wgsl): x [..., 2C] -> [..., C] = first half * gelu(second half). x f32 or f16;
// the output takes rt.activationDtype.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import { shapeStr } from '../ops.ts';
import { grid1d } from './grid.ts';

export const gegluSpec: KernelSpec = {
  shader: 'geglu',
  bindings: ['x', 'y'],
  outputs: ['y'],
  activations: ['x', 'y'],
  params: [
    ['n', 'u32'],
    ['C', 'u32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

export function geglu(rt: GpuRuntime, x: GpuTensor): GpuTensor {
  const last = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || last % 2 !== 0) throw new Error(`geglu: last dim of ${shapeStr(x.shape)} must be even`);
  const C = last / 2;
  const y = rt.empty([...x.shape.slice(0, -1), C], rt.activationDtype); // [..., 2C] -> [..., C]
  const { groups, row } = grid1d(y.size, 256);
  rt.dispatch(gegluSpec, [x, y], { n: y.size, C, row }, groups);
  return y;
}
