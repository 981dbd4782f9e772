// Attention and softmax wrappers: one fused flash-style kernel (shaders/attention.wgsl) and a row softmax
// (shaders/softmax.wgsl). Inputs may be f32 or f16 activations, in any mix (each binding has its own accessor);
// outputs take rt.activationDtype. Scores, softmax statistics and accumulators are f32 inside the kernels.
import type { KernelSpec } from '../../gpu/kernel.ts';
import type { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import type { AttentionOptions } from '../ops.ts';
import { assertShape, shapeStr } from '../ops.ts';

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
  ],
  workgroupSize: 256,
};

/** Query rows per workgroup and the largest head dim (32 accumulators of 16 channels), as fixed in the shader. */
const BQ = 16;
const MAX_HEAD_DIM = 512;

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

/** q [B,Nq,H*D], k/v [B,Nk,H*D] -> [B,Nq,H*D]. */
export function attention(rt: GpuRuntime, q: GpuTensor, k: GpuTensor, v: GpuTensor, o: AttentionOptions): GpuTensor {
  assertShape('attention q', q, 3);
  assertShape('attention k', k, 3);
  assertShape('attention v', v, 3);
  const [B, Nq, C] = q.shape;
  const Nk = k.shape[1];
  if (k.shape[0] !== B || k.shape[2] !== C || shapeStr(v.shape) !== shapeStr(k.shape)) {
    throw new Error(`attention: q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)} do not match`);
  }
  const H = o.heads;
  if (!Number.isInteger(H) || H <= 0 || C % H !== 0) throw new Error(`attention: ${C} channels do not split into ${H} heads`);
  const D = C / H;
  if (D > MAX_HEAD_DIM) throw new Error(`attention: head dim ${D} over the kernel's ${MAX_HEAD_DIM}`);
  if (o.causal && Nq !== Nk) throw new Error(`attention: causal needs Nq == Nk, got ${Nq} and ${Nk}`);
  if (Nk === 0) throw new Error('attention: no keys');
  const y = rt.empty([B, Nq, C], rt.activationDtype);
  const params = { Nq, Nk, H, D, scale: o.scale ?? 1 / Math.sqrt(D), causal: o.causal ? 1 : 0 };
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
