// Reference matrix products: dot products summed in f64, one output element at a time.
import { CpuTensor, empty, expectRank, expectShape } from './tensor.ts';
import { shapeStr } from '../ops.ts';

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
