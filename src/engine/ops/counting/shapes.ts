// Output shapes and the argument checks of each op, as the WebGPU wrappers (src/engine/ops/webgpu/*.ts) make them,
// so a model that would fail on the GPU for a shape reason fails the same way on the counting backend.
import type { AttentionOptions, Conv2dOptions, GroupNormOptions, LincombTerm, LinearOptions, Tensor } from '../ops.ts';
import { assertShape, numel, shapeStr } from '../ops.ts';

export interface ConvGeometry {
  shape: number[]; // [N, Cout, Ho, Wo], or [N, Ho*Wo, Cout] with outputTokens
  n: number;
  cin: number;
  /** x's own spatial size. */
  h: number;
  w: number;
  /** The size convolved: the upsample target, else h x w. */
  uh: number;
  uw: number;
  cout: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  stride: number;
  pad: readonly [number, number, number, number];
}

/** conv2d's argument checks and output geometry, shared by the WebGPU wrapper and this backend. */
export function conv2dGeometry(x: Tensor, w: Tensor, b: Tensor | null, o: Conv2dOptions = {}): ConvGeometry {
  const tokens = o.inputTokens;
  const rank = tokens ? 3 : 4;
  const cinX = tokens ? x.shape[2] : x.shape[1];
  if (x.shape.length !== rank || w.shape.length !== 4 || w.shape[1] !== cinX) {
    const want = tokens ? 'x [N,H*W,Cin]' : 'x [N,Cin,H,W]';
    throw new Error(`conv2d: needs ${want} and w [Cout,Cin,kh,kw], got ${shapeStr(x.shape)} and ${shapeStr(w.shape)}`);
  }
  const n = x.shape[0];
  const [h, wd] = tokens ?? [x.shape[2], x.shape[3]];
  if (tokens && (!(Number.isInteger(h) && Number.isInteger(wd) && h > 0 && wd > 0) || h * wd !== x.shape[1])) {
    throw new Error(`conv2d: ${x.shape[1]} tokens are not a ${h}x${wd} map`);
  }
  const [cout, cin, kh, kw] = w.shape;
  if (b && (b.shape.length !== 1 || b.shape[0] !== cout)) throw new Error(`conv2d: bias must be [${cout}], got ${shapeStr(b.shape)}`);
  const [uh, uw] = o.upsample ?? [h, wd];
  if (!(Number.isInteger(uh) && Number.isInteger(uw) && uh > 0 && uw > 0)) throw new Error(`conv2d: bad upsample size ${uh}x${uw}`);
  const stride = o.stride ?? 1;
  const pad = o.pad ?? [kh >> 1, kh >> 1, kw >> 1, kw >> 1];
  const [pt, pb, pl, pr] = pad;
  if (!Number.isInteger(stride) || stride < 1 || pad.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`conv2d: bad stride ${stride} or padding [${pt},${pb},${pl},${pr}]`);
  }
  const ho = Math.floor((uh + pt + pb - kh) / stride) + 1;
  const wo = Math.floor((uw + pl + pr - kw) / stride) + 1;
  if (ho <= 0 || wo <= 0) throw new Error(`conv2d: empty output ${ho}x${wo} for x ${shapeStr(x.shape)}`);
  const shape = o.outputTokens ? [n, ho * wo, cout] : [n, cout, ho, wo];
  if (o.channelBias) {
    const { table, offset } = o.channelBias;
    if (table.shape.length !== 2 || table.shape[0] !== n || !Number.isInteger(offset) || offset < 0 || offset + cout > table.shape[1]) {
      throw new Error(`conv2d: channelBias needs a [${n}, >= ${offset}+${cout}] table, got ${shapeStr(table.shape)} at ${offset}`);
    }
  }
  if (o.residual && shapeStr(o.residual.shape) !== shapeStr(shape)) {
    throw new Error(`conv2d: residual ${shapeStr(o.residual.shape)} must match the output ${shapeStr(shape)}`);
  }
  return { shape, n, cin, h, w: wd, uh, uw, cout, ho, wo, kh, kw, stride, pad: [pt, pb, pl, pr] };
}

export function checkGroupNorm(x: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions): void {
  if (x.shape.length < 2) throw new Error(`groupNorm: x must be [N,C,...], got ${shapeStr(x.shape)}`);
  const C = x.shape[1];
  if (!Number.isInteger(o.groups) || o.groups <= 0 || C % o.groups !== 0) {
    throw new Error(`groupNorm: ${C} channels not divisible into ${o.groups} groups`);
  }
  checkAffine('groupNorm', C, gamma, beta);
}

export function checkLayerNorm(x: Tensor, gamma: Tensor, beta: Tensor): void {
  if (x.shape.length < 1) throw new Error('layerNorm: x must have a last dim');
  checkAffine('layerNorm', x.shape[x.shape.length - 1], gamma, beta);
}

function checkAffine(op: string, C: number, gamma: Tensor, beta: Tensor): void {
  for (const [name, t] of [['gamma', gamma], ['beta', beta]] as const) {
    if (t.shape.length !== 1 || t.shape[0] !== C) throw new Error(`${op}: ${name} must be [${C}], got ${shapeStr(t.shape)}`);
  }
}

/** x [..., K], w [N, K] -> M = rows of x, output [..., N] ([..., N/2] with the GEGLU epilogue). */
export function linearGeometry(x: Tensor, w: Tensor, b: Tensor | null, o: LinearOptions = {}): { shape: number[]; M: number; N: number; K: number } {
  const K = x.shape[x.shape.length - 1];
  if (w.shape.length !== 2 || w.shape[1] !== K) {
    throw new Error(`linear: x ${shapeStr(x.shape)} needs w [N,${K}], got ${shapeStr(w.shape)}`);
  }
  const N = w.shape[0];
  if (b && (b.shape.length !== 1 || b.shape[0] !== N)) throw new Error(`linear: bias must be [${N}], got ${shapeStr(b.shape)}`);
  if (o.geglu && N % 2 !== 0) throw new Error(`linear: GEGLU needs an even number of outputs, got ${N}`);
  if (o.layerNorm) checkAffine('linear layerNorm', K, o.layerNorm.gamma, o.layerNorm.beta);
  const M = K === 0 ? 0 : numel(x.shape) / K;
  const shape = [...x.shape.slice(0, -1), o.geglu ? N / 2 : N];
  if (o.residual && shapeStr(o.residual.shape) !== shapeStr(shape)) {
    throw new Error(`linear: residual ${shapeStr(o.residual.shape)} must match the output ${shapeStr(shape)}`);
  }
  return { shape, M, N, K };
}

/** lincomb's checks: 1 to 4 terms of one shape after batch selection; returns that shape. */
export function lincombShape(terms: readonly LincombTerm[]): number[] {
  if (terms.length < 1 || terms.length > 4) throw new Error(`lincomb: 1 to 4 terms, got ${terms.length}`);
  let shape: number[] | null = null;
  for (const { t, batch, coef } of terms) {
    if (!Number.isFinite(coef)) throw new Error(`lincomb: coefficient ${coef}`);
    let s = [...t.shape];
    if (batch !== undefined) {
      if (!(Number.isInteger(batch) && s.length >= 1 && batch >= 0 && batch < s[0])) {
        throw new Error(`lincomb: batch ${batch} out of range for ${shapeStr(t.shape)}`);
      }
      s = [1, ...s.slice(1)];
    }
    if (shape && shapeStr(shape) !== shapeStr(s)) throw new Error(`lincomb: terms ${shapeStr(shape)} and ${shapeStr(s)} differ`);
    shape = s;
  }
  return shape!;
}

/** concatWeights' checks: one dtype, equal trailing dims; returns the stacked shape. */
export function concatWeightsShape(ws: readonly Tensor[]): number[] {
  if (ws.length === 0) throw new Error('concatWeights: no weights');
  const [first] = ws;
  for (const t of ws) {
    if (t.dtype !== first.dtype || t.shape.length !== first.shape.length || t.shape.length < 1 ||
      t.shape.some((d, i) => i > 0 && d !== first.shape[i])) {
      throw new Error(`concatWeights: ${ws.map((u) => `${u.dtype} ${shapeStr(u.shape)}`).join(', ')} do not stack`);
    }
    if (t.dtype === 'f16' && numel(t.shape) % 2 !== 0) {
      throw new Error(`concatWeights: f16 ${shapeStr(t.shape)} has an odd element count (parts are copied as 32-bit words)`);
    }
  }
  return [ws.reduce((s, t) => s + t.shape[0], 0), ...first.shape.slice(1)];
}

export function matmulGeometry(a: Tensor, b: Tensor): { B: number; M: number; N: number; K: number } {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new Error(`matmul: needs a [B,M,K] and b [B,K,N], got ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`);
  }
  return { B: a.shape[0], M: a.shape[1], N: b.shape[2], K: a.shape[2] };
}

/** attention's geometry: sizes, and where q, k and v lie in their (possibly packed) rows. */
export interface AttentionGeometry {
  B: number;
  Nq: number;
  Nk: number;
  H: number;
  D: number;
  /** Channels of q, k, v and the output (H * D). */
  C: number;
  /** Elements from one q row to the next, and from one k (or v) row to the next: C, 2C (k|v) or 3C (q|k|v). */
  qStride: number;
  kvStride: number;
  /** Channel where k starts in its row (C in a q|k|v row, else 0), and where v starts (2C, C in a k|v row, or 0). */
  kOff: number;
  vOff: number;
}

/** attention's argument checks and input layout, shared by the WebGPU wrapper and this backend. */
export function attentionGeometry(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): AttentionGeometry {
  assertShape('attention q', q, 3);
  assertShape('attention k', k, 3);
  assertShape('attention v', v, 3);
  const packed = o.packed;
  if (packed !== undefined && packed !== 'qkv' && packed !== 'kv') throw new Error(`attention: unknown packing ${String(packed)}`);
  if (packed === 'qkv' && (k !== q || v !== q)) throw new Error("attention: packed 'qkv' takes one q|k|v tensor as q, k and v");
  if (packed === 'kv' && v !== k) throw new Error("attention: packed 'kv' takes one k|v tensor as k and v");
  const qParts = packed === 'qkv' ? 3 : 1;
  const kvParts = packed === 'qkv' ? 3 : packed === 'kv' ? 2 : 1;
  const [B, Nq, qw] = q.shape;
  const Nk = k.shape[1];
  const C = qw / qParts;
  if (!Number.isInteger(C) || k.shape[0] !== B || k.shape[2] !== kvParts * C || shapeStr(v.shape) !== shapeStr(k.shape)) {
    const how = packed ? ` (packed '${packed}')` : '';
    throw new Error(`attention: q ${shapeStr(q.shape)}, k ${shapeStr(k.shape)}, v ${shapeStr(v.shape)} do not match${how}`);
  }
  const H = o.heads;
  if (!Number.isInteger(H) || H <= 0 || C % H !== 0) throw new Error(`attention: ${C} channels do not split into ${H} heads`);
  const D = C / H;
  if (D > 512) throw new Error(`attention: head dim ${D} over the kernel's 512`);
  if (o.causal && Nq !== Nk) throw new Error(`attention: causal needs Nq == Nk, got ${Nq} and ${Nk}`);
  if (Nk === 0) throw new Error('attention: no keys');
  const kOff = packed === 'qkv' ? C : 0;
  return { B, Nq, Nk, H, D, C, qStride: qParts * C, kvStride: kvParts * C, kOff, vOff: kOff + (packed ? C : 0) };
}

export function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (shapeStr(a.shape) !== shapeStr(b.shape)) throw new Error(`${op}: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} differ`);
}

export function checkPerChannel(x: Tensor, v: Tensor): void {
  const [N, C] = x.shape;
  if (v.shape.length !== 2 || v.shape[0] !== N || v.shape[1] !== C) {
    throw new Error(`addPerChannel: x ${shapeStr(x.shape)} needs v [${N},${C}], got ${shapeStr(v.shape)}`);
  }
}

export function gegluShape(x: Tensor): number[] {
  const last = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || last % 2 !== 0) throw new Error(`geglu: last dim of ${shapeStr(x.shape)} must be even`);
  return [...x.shape.slice(0, -1), last / 2];
}

export function upsampleShape(x: Tensor, outH: number, outW: number): number[] {
  assertShape('upsampleNearest x', x, 4);
  if (!(Number.isInteger(outH) && Number.isInteger(outW) && outH > 0 && outW > 0)) {
    throw new Error(`upsampleNearest: bad size ${outH}x${outW}`);
  }
  return [x.shape[0], x.shape[1], outH, outW];
}

export function aroundAxis(shape: readonly number[], axis: number): { outer: number; size: number; inner: number } {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) throw new Error(`axis ${axis} out of range for ${shapeStr(shape)}`);
  return { outer: numel(shape.slice(0, axis)), size: shape[axis], inner: numel(shape.slice(axis + 1)) };
}

export function concatShape(xs: readonly Tensor[], axis: number): number[] {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const first = xs[0].shape;
  for (const t of xs) {
    if (t.shape.length !== first.length || t.shape.some((d, i) => i !== axis && d !== first[i])) {
      throw new Error(`concat on axis ${axis}: ${xs.map((u) => shapeStr(u.shape)).join(' ')}`);
    }
  }
  const shape = [...first];
  shape[axis] = xs.reduce((s, t) => s + t.shape[axis], 0);
  aroundAxis(shape, axis);
  return shape;
}

export function sliceShape(x: Tensor, axis: number, start: number, end: number): number[] {
  const { size } = aroundAxis(x.shape, axis);
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= size)) {
    throw new Error(`slice: [${start}, ${end}) out of range on axis ${axis} of ${shapeStr(x.shape)}`);
  }
  const shape = [...x.shape];
  shape[axis] = end - start;
  return shape;
}

/** The transpose kernel's grid for [N, R, K] -> [N, K, R] in 32x32 tiles (zero counts record no dispatch). */
export function transposeGrid(N: number, R: number, K: number): [number, number, number] {
  const gx = Math.ceil(K / 32), gy = Math.ceil(R / 32);
  if (gx > 65535 || gy > 65535 || N > 65535) throw new Error(`transpose: [${N},${R},${K}] is too large for one dispatch`);
  return [gx, gy, N];
}

export function embeddingShape(ids: Int32Array, batch: number, tok: Tensor, pos: Tensor): number[] {
  assertShape('embedding tokenTable', tok, 2);
  assertShape('embedding posTable', pos, 2);
  const [V, D] = tok.shape;
  if (!(Number.isInteger(batch) && batch > 0) || ids.length % batch !== 0) throw new Error(`embedding: ${ids.length} ids in ${batch} rows`);
  const L = ids.length / batch;
  if (pos.shape[1] !== D || pos.shape[0] < L) throw new Error(`embedding: posTable ${shapeStr(pos.shape)} for L=${L}, D=${D}`);
  for (const id of ids) if (id < 0 || id >= V) throw new Error(`embedding: id ${id} outside vocabulary of ${V}`);
  return [batch, L, D];
}
