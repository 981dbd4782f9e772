// Attention and softmax wrappers: one fused flash-style kernel (shaders/attention.wgsl) and a row softmax
// (shaders/softmax.wgsl). Inputs may be f32 or f16 activations, in any mix (each binding has its own accessor);
// outputs take rt.activationDtype. Scores, softmax statistics and accumulators are f32 inside the kernels.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import type { AttentionOptions } from '../ops.ts';
import { attentionGeometry } from '../counting/shapes.ts';

export const attentionSpec: KernelSpec = {
  shader: 'attention',
  bindings: ['q', 'k', 'v', 'y'],
  outputs: ['y'],
  activations: ['q', 'k', 'v', 'y'],
  params: [
    ['Nq', 'u32'],
    ['Nk', 'u32'],
    ['H', 'u32'],
    ['D', 'u32'],
    ['scale', 'f32'],
    ['causal', 'u32'],
    ['qStride', 'u32'],
    ['kvStride', 'u32'],
    ['kOff', 'u32'],
    ['vOff', 'u32'],
  ],
  workgroupSize: 256,
};

/** Query rows per workgroup, as fixed in the shader (the largest head dim, 512, is checked by attentionGeometry). */
const BQ = 16;

export const softmaxSpec: KernelSpec = {
  shader: 'softmax',
  bindings: ['x', 'y'],
  outputs: ['y'],
  activations: ['x', 'y'],
  params: [
    ['rows', 'u32'],
    ['n', 'u32'],
    ['gx', 'u32'],
  ],
  workgroupSize: 256,
};

/** q [B,Nq,H*D], k/v [B,Nk,H*D] -> [B,Nq,H*D]; packed inputs are read in place through row strides and offsets. */
export function attention(rt: GpuRuntime, q: GpuTensor, k: GpuTensor, v: GpuTensor, o: AttentionOptions): GpuTensor {
  const { B, Nq, Nk, H, D, C, qStride, kvStride, kOff, vOff } = attentionGeometry(q, k, v, o);
  const y = rt.empty([B, Nq, C], rt.activationDtype);
  const scale = o.scale ?? 1 / Math.sqrt(D);
  const params = { Nq, Nk, H, D, scale, causal: o.causal ? 1 : 0, qStride, kvStride, kOff, vOff };
  // one pipeline per ceil(D / 16): the per-invocation accumulator length
  rt.dispatch(attentionSpec, [q, k, v, y], params, [Math.ceil(Nq / BQ), B * H], { DPT: Math.ceil(D / 16) });
  return y;
}

/** Softmax over the last dim, any rank. */
export function softmax(rt: GpuRuntime, x: GpuTensor): GpuTensor {
  if (x.shape.length < 1) throw new Error('softmax: x must have a last dim');
  const n = x.shape[x.shape.length - 1];
  const rows = n === 0 ? 0 : x.size / n;
  const y = rt.empty(x.shape, rt.activationDtype);
  const gx = Math.min(rows, 65535);
  const WG = n <= 512 ? 64 : 256; // short rows: fewer idle invocations and reduction steps
  rt.dispatch(softmaxSpec, [x, y], { rows, n, gx }, [gx, Math.ceil(rows / Math.max(gx, 1))], { WG });
  return y;
}
