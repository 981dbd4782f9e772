// The plain TypeScript reference backend: naive loops over f32 host arrays, the ground truth the WebGPU kernels
// and the model ports are checked against. Each method delegates to its op family's file.
import type { AttentionOptions, Backend, Conv2dOptions, GroupNormOptions, LincombTerm, LinearOptions, Tensor, WeightData } from '../ops.ts';
import { numel, shapeStr } from '../ops.ts';
import { concatWeightsShape, lincombShape } from '../counting/shapes.ts';
import { CpuTensor, cpu, halfBitsToFloat } from './tensor.ts';
import { ShapeTensor } from '../../weights/var_builder.ts';
import { conv2dFused } from './conv.ts';
import { groupNorm, layerNorm } from './norm.ts';
import { linearFused, matmul } from './matmul.ts';
import { attention, softmax } from './attention.ts';
import { addPerChannel, geglu, geluScalar, lincomb, map, siluScalar, zip } from './elementwise.ts';
import { concat, nchwToNlc, nlcToNchw, slice, upsampleNearest } from './layout.ts';
import { embedding, imageToTensor, tensorToImage, timestepEmbedding } from './embed.ts';

export class CpuBackend implements Backend {
  readonly name = 'cpu';

  fromArray(data: Float32Array, shape: readonly number[]): Tensor {
    return new CpuTensor(Float32Array.from(data), shape);
  }
  /** f16 weights are widened to their exact f32 values; the tensor still records dtype 'f16'. */
  weight(w: WeightData, shape: readonly number[]): Tensor {
    if (w.dtype === 'f32') return new CpuTensor(Float32Array.from(w.data), shape, 'f32');
    const wide = new Float32Array(w.data.length);
    for (let i = 0; i < wide.length; i++) wide[i] = halfBitsToFloat(w.data[i]);
    return new CpuTensor(wide, shape, 'f16');
  }
  read(t: Tensor): Promise<Float32Array> {
    return Promise.resolve(Float32Array.from(cpu(t).data));
  }
  reshape(t: Tensor, shape: readonly number[]): Tensor {
    const c = cpu(t);
    if (numel(shape) !== c.data.length) throw new Error(`reshape: ${shapeStr(c.shape)} -> ${shapeStr(shape)}`);
    return new CpuTensor(c.data, shape, c.dtype);
  }
  /** Nothing to free: the garbage collector owns host arrays once the caller drops the tensor. */
  release(t: Tensor): void {
    cpu(t);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }

  conv2d(x: Tensor, w: Tensor, b: Tensor | null, o: Conv2dOptions = {}): Tensor {
    const cb = o.channelBias && { table: cpu(o.channelBias.table), offset: o.channelBias.offset };
    return conv2dFused(cpu(x), cpu(w), b && cpu(b), o, { channelBias: cb ?? null, residual: o.residual ? cpu(o.residual) : null });
  }
  groupNorm(x: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions): Tensor {
    return groupNorm(cpu(x), cpu(gamma), cpu(beta), o);
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
    return layerNorm(cpu(x), cpu(gamma), cpu(beta), eps);
  }
  linear(x: Tensor, w: Tensor, b: Tensor | null, o: LinearOptions = {}): Tensor {
    const ln = o.layerNorm && { gamma: cpu(o.layerNorm.gamma), beta: cpu(o.layerNorm.beta), eps: o.layerNorm.eps };
    return linearFused(cpu(x), cpu(w), b && cpu(b), o, { layerNorm: ln ?? null, residual: o.residual ? cpu(o.residual) : null });
  }
  matmul(a: Tensor, b: Tensor): Tensor {
    return matmul(cpu(a), cpu(b));
  }
  attention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): Tensor {
    return attention(cpu(q), cpu(k), cpu(v), o);
  }
  softmax(x: Tensor): Tensor {
    return softmax(cpu(x));
  }
  silu(x: Tensor): Tensor {
    return map(cpu(x), siluScalar);
  }
  gelu(x: Tensor): Tensor {
    return map(cpu(x), geluScalar);
  }
  quickGelu(x: Tensor): Tensor {
    return map(cpu(x), (v) => v / (1 + Math.exp(-1.702 * v)));
  }
  geglu(x: Tensor): Tensor {
    return geglu(cpu(x));
  }
  exp(x: Tensor): Tensor {
    return map(cpu(x), Math.exp);
  }
  clamp(x: Tensor, lo: number, hi: number): Tensor {
    return map(cpu(x), (v) => Math.min(Math.max(v, lo), hi));
  }
  add(a: Tensor, b: Tensor): Tensor {
    return zip('add', cpu(a), cpu(b), (u, v) => u + v);
  }
  mul(a: Tensor, b: Tensor): Tensor {
    return zip('mul', cpu(a), cpu(b), (u, v) => u * v);
  }
  scale(x: Tensor, s: number, t = 0): Tensor {
    return map(cpu(x), (v) => v * s + t);
  }
  addPerChannel(x: Tensor, v: Tensor): Tensor {
    return addPerChannel(cpu(x), cpu(v));
  }
  lincomb(terms: readonly LincombTerm[]): Tensor {
    const shape = lincombShape(terms);
    const n = numel(shape);
    return lincomb(terms.map(({ t, coef, batch }) => ({ data: cpu(t).data, offset: (batch ?? 0) * n, coef })), shape);
  }
  /** Stacks the (already widened) values; the result keeps the parts' dtype for the record. */
  concatWeights(ws: readonly Tensor[]): Tensor {
    const shape = concatWeightsShape(ws);
    // a model missing weights (VarBuilder hands out shape-only stand-ins): stays shape-only until finish() reports it
    if (ws.some((w) => w instanceof ShapeTensor)) return new ShapeTensor(shape, ws[0].dtype);
    const parts = ws.map(cpu);
    const data = new Float32Array(numel(shape));
    let at = 0;
    for (const p of parts) {
      data.set(p.data, at);
      at += p.data.length;
    }
    for (const p of parts) this.release(p);
    return new CpuTensor(data, shape, parts[0].dtype);
  }
  upsampleNearest(x: Tensor, outH: number, outW: number): Tensor {
    return upsampleNearest(cpu(x), outH, outW);
  }
  concat(xs: readonly Tensor[], axis: number): Tensor {
    return concat(xs.map(cpu), axis);
  }
  slice(x: Tensor, axis: number, start: number, end: number): Tensor {
    return slice(cpu(x), axis, start, end);
  }
  nchwToNlc(x: Tensor): Tensor {
    return nchwToNlc(cpu(x));
  }
  nlcToNchw(x: Tensor, h: number, w: number): Tensor {
    return nlcToNchw(cpu(x), h, w);
  }
  timestepEmbedding(timesteps: Float32Array, dim: number, flipSinToCos: boolean, freqShift: number): Tensor {
    return timestepEmbedding(timesteps, dim, flipSinToCos, freqShift);
  }
  embedding(ids: Int32Array, batch: number, tokenTable: Tensor, posTable: Tensor): Tensor {
    return embedding(ids, batch, cpu(tokenTable), cpu(posTable));
  }
  imageToTensor(rgb: Uint8Array, h: number, w: number): Tensor {
    return imageToTensor(rgb, h, w);
  }
  tensorToImage(x: Tensor): Promise<Uint8Array> {
    return Promise.resolve(tensorToImage(cpu(x)));
  }
}
