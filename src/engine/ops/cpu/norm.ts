// Reference normalizations as PyTorch defines them: biased variance, eps inside the square root, two passes in f64.
import type { GroupNormOptions } from '../ops.ts';
import { CpuTensor, empty, expectShape } from './tensor.ts';

/** x [N,C,...spatial]: each (n, group) of C/groups channels is normalized over its channels and positions. */
export function groupNorm(x: CpuTensor, gamma: CpuTensor, beta: CpuTensor, o: GroupNormOptions): CpuTensor {
  if (x.shape.length < 2) throw new Error('groupNorm: x must be [N,C,...]');
  const [n, c] = x.shape;
  const groups = o.groups;
  if (!Number.isInteger(groups) || groups <= 0 || c % groups !== 0) {
    throw new Error(`groupNorm: ${c} channels not divisible into ${groups} groups`);
  }
  expectShape('groupNorm gamma', gamma, [c]);
  expectShape('groupNorm beta', beta, [c]);
  const spatial = x.data.length / (n * c);
  const cg = c / groups;
  const count = cg * spatial;
  const out = empty(x.shape);
  const xs = x.data, os = out.data;
  for (let ni = 0; ni < n; ni++) {
    for (let g = 0; g < groups; g++) {
      const base = (ni * c + g * cg) * spatial; // the group's channels are contiguous
      let sum = 0;
      for (let i = 0; i < count; i++) sum += xs[base + i];
      const mean = sum / count;
      let ss = 0;
      for (let i = 0; i < count; i++) ss += (xs[base + i] - mean) ** 2;
      const rstd = 1 / Math.sqrt(ss / count + o.eps);
      for (let k = 0; k < cg; k++) {
        const ch = g * cg + k;
        const ga = gamma.data[ch], be = beta.data[ch];
        for (let s = 0; s < spatial; s++) {
          const i = base + k * spatial + s;
          // rounded to f32 before the SiLU, so the fused op equals silu(groupNorm(x)) exactly
          const y = Math.fround((xs[i] - mean) * rstd * ga + be);
          os[i] = o.silu ? y / (1 + Math.exp(-y)) : y;
        }
      }
    }
  }
  return out;
}

/** x [..., C] normalized over the last dim, then * gamma + beta. */
export function layerNorm(x: CpuTensor, gamma: CpuTensor, beta: CpuTensor, eps: number): CpuTensor {
  if (x.shape.length < 1) throw new Error('layerNorm: x must have a last dim');
  const c = x.shape[x.shape.length - 1];
  expectShape('layerNorm gamma', gamma, [c]);
  expectShape('layerNorm beta', beta, [c]);
  const rows = c === 0 ? 0 : x.data.length / c;
  const out = empty(x.shape);
  const xs = x.data, os = out.data;
  for (let r = 0; r < rows; r++) {
    const base = r * c;
    let sum = 0;
    for (let i = 0; i < c; i++) sum += xs[base + i];
    const mean = sum / c;
    let ss = 0;
    for (let i = 0; i < c; i++) ss += (xs[base + i] - mean) ** 2;
    const rstd = 1 / Math.sqrt(ss / c + eps);
    for (let i = 0; i < c; i++) os[base + i] = (xs[base + i] - mean) * rstd * gamma.data[i] + beta.data[i];
  }
  return out;
}
