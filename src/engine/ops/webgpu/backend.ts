// The WebGPU implementation of the op vocabulary: each method delegates to the op's wrapper file, which owns
// its WGSL kernel in shaders/.
import type { GpuContext } from '../../gpu/device.ts';
import { GpuRuntime, GpuTensor } from '../../gpu/runtime.ts';
import type { AttentionOptions, Backend, Conv2dOptions, GroupNormOptions, LincombTerm, LinearOptions, Tensor, WeightData } from '../ops.ts';
import { addPerChannel, binary, lincomb, unary } from './elementwise.ts';
import { conv2d } from './conv2d.ts';
import { groupNorm, layerNorm } from './norm.ts';
import { concatWeights, linear, matmul } from './matmul.ts';
import { concatWeightsShape } from '../counting/shapes.ts';
import { ShapeTensor } from '../../weights/var_builder.ts';
import { attention, softmax } from './attention.ts';
import { geglu } from './geglu.ts';
import { concat, nchwToNlc, nlcToNchw, slice, upsampleNearest } from './layout.ts';
import { embedding, imageToTensor, tensorToImage, timestepEmbedding } from './embed.ts';

function g(t: Tensor): GpuTensor {
  if (!(t instanceof GpuTensor)) throw new Error('tensor does not belong to the WebGPU backend');
  return t;
}

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly rt: GpuRuntime;

  constructor(ctx: GpuContext) {
    this.rt = new GpuRuntime(ctx);
  }

  fromArray(data: Float32Array, shape: readonly number[]): Tensor {
    return this.rt.upload(data, shape, 'f32');
  }
  weight(w: WeightData, shape: readonly number[]): Tensor {
    return this.rt.upload(w.data, shape, w.dtype);
  }
  read(t: Tensor): Promise<Float32Array> {
    return this.rt.read(g(t));
  }
  reshape(t: Tensor, shape: readonly number[]): Tensor {
    return this.rt.view(g(t), shape);
  }
  release(t: Tensor): void {
    this.rt.release(g(t));
  }
  flush(): Promise<void> {
    return this.rt.flush();
  }
  releaseCached(): Promise<void> {
    return this.rt.releaseCached();
  }

  conv2d(x: Tensor, w: Tensor, b: Tensor | null, o?: Conv2dOptions): Tensor {
    const cb = o?.channelBias ? g(o.channelBias.table) : null;
    return conv2d(this.rt, g(x), g(w), b && g(b), o, cb, o?.residual ? g(o.residual) : null);
  }
  groupNorm(x: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions): Tensor {
    return groupNorm(this.rt, g(x), g(gamma), g(beta), o);
  }
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number): Tensor {
    return layerNorm(this.rt, g(x), g(gamma), g(beta), eps);
  }
  linear(x: Tensor, w: Tensor, b: Tensor | null, o?: LinearOptions): Tensor {
    const ln = o?.layerNorm ? { gamma: g(o.layerNorm.gamma), beta: g(o.layerNorm.beta), eps: o.layerNorm.eps } : null;
    return linear(this.rt, g(x), g(w), b && g(b), o, { res: o?.residual ? g(o.residual) : null, ln });
  }
  matmul(a: Tensor, b: Tensor): Tensor {
    return matmul(this.rt, g(a), g(b));
  }
  attention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): Tensor {
    return attention(this.rt, g(q), g(k), g(v), o);
  }
  softmax(x: Tensor): Tensor {
    return softmax(this.rt, g(x));
  }
  silu(x: Tensor): Tensor {
    return unary(this.rt, 'silu', g(x));
  }
  gelu(x: Tensor): Tensor {
    return unary(this.rt, 'gelu', g(x));
  }
  quickGelu(x: Tensor): Tensor {
    return unary(this.rt, 'quickGelu', g(x));
  }
  geglu(x: Tensor): Tensor {
    return geglu(this.rt, g(x));
  }
  exp(x: Tensor): Tensor {
    return unary(this.rt, 'exp', g(x));
  }
  clamp(x: Tensor, lo: number, hi: number): Tensor {
    return unary(this.rt, 'clamp', g(x), lo, hi);
  }
  add(a: Tensor, b: Tensor): Tensor {
    return binary(this.rt, 'add', g(a), g(b));
  }
  mul(a: Tensor, b: Tensor): Tensor {
    return binary(this.rt, 'mul', g(a), g(b));
  }
  scale(x: Tensor, s: number, t = 0): Tensor {
    return unary(this.rt, 'affine', g(x), s, t);
  }
  addPerChannel(x: Tensor, v: Tensor): Tensor {
    return addPerChannel(this.rt, g(x), g(v));
  }
  lincomb(terms: readonly LincombTerm[]): Tensor {
    return lincomb(this.rt, terms.map((term) => ({ ...term, t: g(term.t) })));
  }
  concatWeights(ws: readonly Tensor[]): Tensor {
    // a model missing weights (VarBuilder hands out shape-only stand-ins): stays shape-only until finish() reports it
    if (ws.some((w) => w instanceof ShapeTensor)) return new ShapeTensor(concatWeightsShape(ws), ws[0].dtype);
    return concatWeights(this.rt, ws.map(g));
  }
  upsampleNearest(x: Tensor, outH: number, outW: number): Tensor {
    return upsampleNearest(this.rt, g(x), outH, outW);
  }
  concat(xs: readonly Tensor[], axis: number): Tensor {
    return concat(this.rt, xs.map(g), axis);
  }
  slice(x: Tensor, axis: number, start: number, end: number): Tensor {
    return slice(this.rt, g(x), axis, start, end);
  }
  nchwToNlc(x: Tensor): Tensor {
    return nchwToNlc(this.rt, g(x));
  }
  nlcToNchw(x: Tensor, h: number, w: number): Tensor {
    return nlcToNchw(this.rt, g(x), h, w);
  }
  timestepEmbedding(timesteps: Float32Array, dim: number, flipSinToCos: boolean, freqShift: number): Tensor {
    return timestepEmbedding(this.rt, timesteps, dim, flipSinToCos, freqShift);
  }
  embedding(ids: Int32Array, batch: number, tokenTable: Tensor, posTable: Tensor): Tensor {
    return embedding(this.rt, ids, batch, g(tokenTable), g(posTable));
  }
  imageToTensor(rgb: Uint8Array, h: number, w: number): Tensor {
    return imageToTensor(this.rt, rgb, h, w);
  }
  tensorToImage(x: Tensor): Promise<Uint8Array> {
    return tensorToImage(this.rt, g(x));
  }
}
