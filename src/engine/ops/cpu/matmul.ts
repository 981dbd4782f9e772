// Reference matrix products: dot products summed in f64, one output element at a time; the linear epilogues
// (GEGLU, residual) and the LayerNorm prologue as the separate reference ops they replace.
import { CpuTensor, empty, expectRank, expectShape } from './tensor.ts';
import { shapeStr } from '../ops.ts';
import { geglu } from './elementwise.ts';
import { layerNorm } from './norm.ts';

/** The CPU tensors behind LinearOptions. */
export interface LinearExtras {
  layerNorm: { gamma: CpuTensor; beta: CpuTensor; eps: number } | null;
  residual: CpuTensor | null;
}

/** layerNorm of x when asked, linear, GEGLU over its output when asked, then + residual; each step rounds to f32. */
export function linearFused(x: CpuTensor, w: CpuTensor, b: CpuTensor | null, o: { geglu?: boolean }, e: LinearExtras): CpuTensor {
  const ln = e.layerNorm;
  let y = linear(ln ? layerNorm(x, ln.gamma, ln.beta, ln.eps) : x, w, b);
  const residual = e.residual;
  if (o.geglu) y = geglu(y);
  if (residual) {
    expectShape('linear residual', residual, y.shape);
    const r = residual.data, ys = y.data;
    for (let i = 0; i < ys.length; i++) ys[i] = ys[i] + r[i];
  }
  return y;
}

/** x [..., K] @ w[N, K]^T + b[N] -> [..., N] (nn.Linear). */
export function linear(x: CpuTensor, w: CpuTensor, b: CpuTensor | null): CpuTensor {
  expectRank('linear w', w, 2);
  const [nOut, k] = w.shape;
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== k) {
    throw new Error(`linear: x ${shapeStr(x.shape)} does not end in K=${k}`);
  }
  if (b) expectShape('linear bias', b, [nOut]);
  const rows = k === 0 ? 0 : x.data.length / k;
  const out = empty([...x.shape.slice(0, -1), nOut]);
  const xs = x.data, ws = w.data, os = out.data;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < nOut; j++) {
      let acc = b ? b.data[j] : 0;
      for (let i = 0; i < k; i++) acc += xs[r * k + i] * ws[j * k + i];
      os[r * nOut + j] = acc;
    }
  }
  return out;
}

/** a [B,M,K] @ b [B,K,N] -> [B,M,N]. */
export function matmul(a: CpuTensor, b: CpuTensor): CpuTensor {
  expectRank('matmul a', a, 3);
  expectRank('matmul b', b, 3);
  const [batch, m, k] = a.shape;
  const [bb, bk, n] = b.shape;
  if (bb !== batch || bk !== k) throw new Error(`matmul: ${shapeStr(a.shape)} x ${shapeStr(b.shape)}`);
  const out = empty([batch, m, n]);
  const as = a.data, bs = b.data, os = out.data;
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let t = 0; t < k; t++) acc += as[(z * m + i) * k + t] * bs[(z * k + t) * n + j];
        os[(z * m + i) * n + j] = acc;
      }
    }
  }
  return out;
}
