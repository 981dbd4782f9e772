// Group and layer normalization (shaders/group_norm.wgsl, shaders/layer_norm.wgsl): one workgroup per group or row.
// x may be an f32 or f16 activation; y takes rt.activationDtype; the statistics are f32 either way.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import { shapeStr, type GroupNormOptions } from '../ops.ts';
import { checkBindings, tileGrid } from './matmul.ts';

export const groupNormSpec: KernelSpec = {
  shader: 'group_norm',
  bindings: ['x', 'gamma', 'beta', 'y'],
  outputs: ['y'],
  weights: ['gamma', 'beta'],
  activations: ['x', 'y'],
  params: [
    ['C', 'u32'],
    ['S', 'u32'],
    ['groups', 'u32'],
    ['units', 'u32'],
    ['eps', 'f32'],
    ['silu', 'u32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

export const layerNormSpec: KernelSpec = {
  shader: 'layer_norm',
  bindings: ['x', 'gamma', 'beta', 'y'],
  outputs: ['y'],
  weights: ['gamma', 'beta'],
  activations: ['x', 'y'],
  params: [
    ['C', 'u32'],
    ['rows', 'u32'],
    ['eps', 'f32'],
    ['row', 'u32'],
  ],
  workgroupSize: 128,
};

function checkAffine(op: string, C: number, gamma: GpuTensor, beta: GpuTensor): void {
  for (const [name, t] of [['gamma', gamma], ['beta', beta]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== C) throw new Error(`${op}: ${name} must be [${C}], got ${shapeStr(t.shape)}`);
  }
}

/** x [N,C,...spatial] -> same shape; statistics per (n, group). */
export function groupNorm(rt: GpuRuntime, x: GpuTensor, gamma: GpuTensor, beta: GpuTensor, o: GroupNormOptions): GpuTensor {
  if (x.shape.length < 2) throw new Error(`groupNorm: x must be [N,C,...], got ${shapeStr(x.shape)}`);
  const [N, C] = x.shape;
  if (!Number.isInteger(o.groups) || o.groups <= 0 || C % o.groups !== 0) {
    throw new Error(`groupNorm: ${C} channels not divisible into ${o.groups} groups`);
  }
  checkAffine('groupNorm', C, gamma, beta);
  const y = rt.empty(x.shape, rt.activationDtype);
  checkBindings(rt, 'groupNorm', { x, gamma, beta, y });
  const units = N * o.groups;
  const { groups, row } = tileGrid(units);
  const params = { C, S: x.size / (N * C), groups: o.groups, units, eps: o.eps, silu: o.silu ? 1 : 0, row };
  rt.dispatch(groupNormSpec, [x, gamma, beta, y], params, groups);
  return y;
}

/** x [..., C] -> same shape, normalized over the last dim. */
export function layerNorm(rt: GpuRuntime, x: GpuTensor, gamma: GpuTensor, beta: GpuTensor, eps: number): GpuTensor {
  if (x.shape.length < 1) throw new Error('layerNorm: x must have a last dim');
  const C = x.shape[x.shape.length - 1];
  checkAffine('layerNorm', C, gamma, beta);
  const y = rt.empty(x.shape, rt.activationDtype);
  checkBindings(rt, 'layerNorm', { x, gamma, beta, y });
  const rows = C === 0 ? 0 : x.size / C;
  const { groups, row } = tileGrid(rows);
  rt.dispatch(layerNormSpec, [x, gamma, beta, y], { C, rows, eps, row }, groups);
  return y;
}
