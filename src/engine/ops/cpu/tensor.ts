// The CPU reference's tensor: f32 host storage (f16 weights widened on load, dtype kept for the record) and the
// small shape helpers the reference ops share.
import { numel, shapeStr, type DType, type Tensor } from '../ops.ts';

export class CpuTensor implements Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Row-major values; shared between a tensor and its reshapes. */
  data: Float32Array;

  constructor(data: Float32Array, shape: readonly number[], dtype: DType = 'f32') {
    if (data.length !== numel(shape)) throw new Error(`CpuTensor: ${data.length} values for shape ${shapeStr(shape)}`);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`CpuTensor: bad shape ${shapeStr(shape)}`);
    }
    this.data = data;
    this.shape = [...shape];
    this.dtype = dtype;
  }
}

export function cpu(t: Tensor): CpuTensor {
  if (!(t instanceof CpuTensor)) throw new Error('tensor does not belong to the CPU backend');
  return t;
}

/** A fresh zeroed f32 tensor. */
export function empty(shape: readonly number[]): CpuTensor {
  return new CpuTensor(new Float32Array(numel(shape)), shape);
}

/** IEEE binary16 bits -> the exact f32 value (every half is representable in f32). */
export function halfBitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero and subnormals
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

export function expectRank(what: string, t: CpuTensor, rank: number): void {
  if (t.shape.length !== rank) throw new Error(`${what}: expected rank ${rank}, got ${shapeStr(t.shape)}`);
}

export function expectSameShape(what: string, a: CpuTensor, b: CpuTensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: shapes differ, ${shapeStr(a.shape)} vs ${shapeStr(b.shape)}`);
  }
}

export function expectShape(what: string, t: CpuTensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${what}: expected ${shapeStr(shape)}, got ${shapeStr(t.shape)}`);
  }
}

/** Splits a shape around `axis` into (outer, size, inner) element counts, for axis-wise loops. */
export function aroundAxis(shape: readonly number[], axis: number): { outer: number; size: number; inner: number } {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new Error(`axis ${axis} out of range for ${shapeStr(shape)}`);
  }
  return { outer: numel(shape.slice(0, axis)), size: shape[axis], inner: numel(shape.slice(axis + 1)) };
}
