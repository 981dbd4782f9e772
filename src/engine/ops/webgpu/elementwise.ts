// Element-wise ops: one shader (shaders/elementwise.wgsl), the operation picked by the OP override; and lincomb
// (shaders/lincomb.wgsl), the f32 linear combination behind the guidance combine and the scheduler steps.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import { numel, shapeStr } from '../ops.ts';
import { lincombShape } from '../counting/shapes.ts';
import { grid1d } from './grid.ts';

export const elementwiseSpec: KernelSpec = {
  shader: 'elementwise',
  bindings: ['a', 'b', 'y'],
  outputs: ['y'],
  activations: ['a', 'b', 'y'],
  params: [
    ['n', 'u32'],
    ['inner', 'u32'],
    ['C', 'u32'],
    ['s', 'f32'],
    ['t', 'f32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

export const lincombSpec: KernelSpec = {
  shader: 'lincomb',
  bindings: ['t0', 't1', 't2', 't3', 'y'],
  outputs: ['y'],
  activations: ['t0', 't1', 't2', 't3'],
  params: [
    ['n', 'u32'],
    ['terms', 'u32'],
    ['off0', 'u32'],
    ['off1', 'u32'],
    ['off2', 'u32'],
    ['off3', 'u32'],
    ['c0', 'f32'],
    ['c1', 'f32'],
    ['c2', 'f32'],
    ['c3', 'f32'],
    ['row', 'u32'],
  ],
  workgroupSize: 256,
};

export const UNARY = { silu: 0, gelu: 1, quickGelu: 2, exp: 3, clamp: 4, affine: 5 } as const;
export const BINARY = { add: 10, mul: 11, addPerChannel: 12 } as const;

function run(rt: GpuRuntime, op: number, a: GpuTensor, b: GpuTensor, s = 0, t = 0, inner = 1, C = 1): GpuTensor {
  const y = rt.empty(a.shape, rt.activationDtype);
  const { groups, row } = grid1d(a.size, 256);
  rt.dispatch(elementwiseSpec, [a, b, y], { n: a.size, inner, C, s, t, row }, groups, { OP: op });
  return y;
}

export function unary(rt: GpuRuntime, op: keyof typeof UNARY, x: GpuTensor, s = 0, t = 0): GpuTensor {
  return run(rt, UNARY[op], x, x, s, t);
}

export function binary(rt: GpuRuntime, op: 'add' | 'mul', a: GpuTensor, b: GpuTensor): GpuTensor {
  if (shapeStr(a.shape) !== shapeStr(b.shape)) throw new Error(`${op}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
  return run(rt, BINARY[op], a, b);
}

export function addPerChannel(rt: GpuRuntime, x: GpuTensor, v: GpuTensor): GpuTensor {
  const [N, C] = x.shape;
  if (v.shape.length !== 2 || v.shape[0] !== N || v.shape[1] !== C) {
    throw new Error(`addPerChannel: x ${shapeStr(x.shape)} needs v [${N},${C}], got ${shapeStr(v.shape)}`);
  }
  return run(rt, BINARY.addPerChannel, x, v, 0, 0, x.size / (N * C), C);
}

/** sum_i coef_i * t_i (or t_i[batch_i]) in f32, 1 to 4 terms -> an f32 tensor of the terms' common shape. */
export function lincomb(rt: GpuRuntime, terms: readonly { t: GpuTensor; coef: number; batch?: number }[]): GpuTensor {
  const shape = lincombShape(terms);
  const n = numel(shape);
  const y = rt.empty(shape, 'f32');
  const params: Record<string, number> = { n, terms: terms.length };
  const bound: GpuTensor[] = [];
  for (let i = 0; i < 4; i++) {
    const term = terms[Math.min(i, terms.length - 1)]; // unused slots repeat the last term, never read
    bound.push(term.t);
    params[`off${i}`] = i < terms.length ? (term.batch ?? 0) * n : 0;
    params[`c${i}`] = i < terms.length ? term.coef : 0;
  }
  const { groups, row } = grid1d(n, 256);
  rt.dispatch(lincombSpec, [...bound, y], { ...params, row }, groups);
  return y;
}
