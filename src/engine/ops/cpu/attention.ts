// Reference attention and softmax: scores materialized per query row, softmax with the row max subtracted, all in f64.
// Packed q|k|v or k|v inputs are sliced apart first (the ops a fused projection replaces).
import type { AttentionOptions } from '../ops.ts';
import { shapeStr } from '../ops.ts';
import { slice } from './layout.ts';
import { CpuTensor, empty, expectRank } from './tensor.ts';

/** q [B,Nq,H*D], k/v [B,Nk,H*D] -> [B,Nq,H*D]; head h is softmax(q_h k_h^T * scale [+ causal mask]) v_h. */
export function attention(q: CpuTensor, k: CpuTensor, v: CpuTensor, o: AttentionOptions): CpuTensor {
  if (o.packed) return packedAttention(q, k, v, o);
  expectRank('attention q', q, 3);
  expectRank('attention k', k, 3);
  expectRank('attention v', v, 3);
  const [b, nq, c] = q.shape;
  const nk = k.shape[1];
  if (k.shape[0] !== b || k.shape[2] !== c || v.shape[0] !== b || v.shape[1] !== nk || v.shape[2] !== c) {
    throw new Error(`attention: q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)}`);
  }
  const heads = o.heads;
  if (!Number.isInteger(heads) || heads <= 0 || c % heads !== 0) throw new Error(`attention: ${c} channels, ${heads} heads`);
  if (o.causal && nq !== nk) throw new Error('attention: causal needs Nq == Nk');
  const d = c / heads;
  const scale = o.scale ?? 1 / Math.sqrt(d);
  const out = empty([b, nq, c]);
  const qs = q.data, ks = k.data, vs = v.data, os = out.data;
  const p = new Float64Array(nk);
  for (let bi = 0; bi < b; bi++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < nq; i++) {
        const qRow = (bi * nq + i) * c + h * d;
        // scores s_j = scale * q_i . k_j; masked keys (j > i) get probability 0
        const last = o.causal ? i : nk - 1;
        let max = -Infinity;
        for (let j = 0; j <= last; j++) {
          const kRow = (bi * nk + j) * c + h * d;
          let s = 0;
          for (let t = 0; t < d; t++) s += qs[qRow + t] * ks[kRow + t];
          p[j] = s * scale;
          if (p[j] > max) max = p[j];
        }
        let sum = 0;
        for (let j = 0; j <= last; j++) {
          p[j] = Math.exp(p[j] - max);
          sum += p[j];
        }
        for (let t = 0; t < d; t++) {
          let acc = 0;
          for (let j = 0; j <= last; j++) acc += p[j] * vs[(bi * nk + j) * c + h * d + t];
          os[qRow + t] = acc / sum;
        }
      }
    }
  }
  return out;
}

/** Packed inputs (AttentionOptions.packed) cut into separate q, k and v by channel slices, then attention of those. */
function packedAttention(q: CpuTensor, k: CpuTensor, v: CpuTensor, o: AttentionOptions): CpuTensor {
  const { packed, ...plain } = o;
  const qkv = packed === 'qkv';
  if (!qkv && packed !== 'kv') throw new Error(`attention: unknown packing ${String(packed)}`);
  if (qkv ? k !== q || v !== q : v !== k) {
    const which = qkv ? "'qkv' takes one q|k|v tensor as q, k and v" : "'kv' takes one k|v tensor as k and v";
    throw new Error(`attention: packed ${which}`);
  }
  expectRank(`attention ${packed}`, k, 3);
  const parts = qkv ? 3 : 2;
  const c = k.shape[2] / parts;
  if (!Number.isInteger(c)) throw new Error(`attention: ${k.shape[2]} channels of a packed '${packed}' tensor do not split`);
  const part = (i: number) => slice(k, 2, i * c, (i + 1) * c); // [B, N, C]
  return qkv ? attention(part(0), part(1), part(2), plain) : attention(q, part(0), part(1), plain);
}

/** Softmax over the last dim, max-subtracted. */
export function softmax(x: CpuTensor): CpuTensor {
  if (x.shape.length < 1) throw new Error('softmax: x must have a last dim');
  const n = x.shape[x.shape.length - 1];
  const rows = n === 0 ? 0 : x.data.length / n;
  const out = empty(x.shape);
  const xs = x.data, os = out.data;
  const e = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, xs[r * n + j]);
    let sum = 0;
    for (let j = 0; j < n; j++) {
      e[j] = Math.exp(xs[r * n + j] - max);
      sum += e[j];
    }
    for (let j = 0; j < n; j++) os[r * n + j] = e[j] / sum;
  }
  return out;
}
