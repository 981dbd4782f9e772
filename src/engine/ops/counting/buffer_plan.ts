// The WebGPU runtime's buffer pool (src/engine/gpu/runtime.ts) replayed on sizes alone, so the cost meter can say
// how much GPU memory an edit holds without a GPU. The rules are the runtime's: sizes rounded up to 16 bytes (at
// least 16); an op output takes a free pooled buffer of exactly that rounded size or creates one; uploads (weights,
// host arrays) always create a fresh buffer; a release returns the buffer to the pool, keyed by its rounded size;
// nothing is ever destroyed during an edit (no trim), so the peak is the final total.

/** What a buffer was created for: an op output, a host upload, or a weight. */
export type BufferKind = 'activation' | 'upload' | 'weight';

/** One buffer's bookkeeping: its rounded size, the bytes its tensor uses, and the views that hold it. */
export interface Storage {
  readonly size: number;
  readonly bytes: number;
  refs: number;
  readonly kind: BufferKind;
}

/** GpuRuntime's rounding rule: a multiple of 16 bytes, at least 16. */
export function roundBytes(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

export class BufferPlan {
  /** Free buffers per rounded size (which one is popped does not matter: only sizes are simulated). */
  private readonly pool = new Map<number, number>();
  /** Bytes of every buffer created (live or pooled): GpuRuntime.stats.bytesAllocated. */
  bytesAllocated = 0;
  /** GpuRuntime.stats.peakBytes. */
  peakBytes = 0;
  /** Rounded bytes of the weight buffers among bytesAllocated. */
  weightBytes = 0;
  buffersCreated = 0;
  maxBufferBytes = 0;
  /** What the largest buffer held, e.g. "weight [49408,768]". */
  maxBufferWhat = '';

  private create(bytes: number, kind: BufferKind, what: string): Storage {
    const size = roundBytes(bytes);
    this.bytesAllocated += size;
    this.peakBytes = Math.max(this.peakBytes, this.bytesAllocated);
    if (kind === 'weight') this.weightBytes += size;
    this.buffersCreated++;
    if (size > this.maxBufferBytes) {
      this.maxBufferBytes = size;
      this.maxBufferWhat = what;
    }
    return { size, bytes, refs: 1, kind };
  }

  /** rt.empty(): a pooled buffer of the rounded size when one is free, else a new one. */
  alloc(bytes: number, what: string): Storage {
    const size = roundBytes(bytes);
    const free = this.pool.get(size) ?? 0;
    if (free > 0) {
      this.pool.set(size, free - 1);
      return { size, bytes, refs: 1, kind: 'activation' };
    }
    return this.create(bytes, 'activation', what);
  }

  /** rt.upload(): always a fresh buffer. */
  upload(bytes: number, kind: 'upload' | 'weight', what: string): Storage {
    return this.create(bytes, kind, what);
  }

  /** rt.view(): one more tensor on the same buffer. */
  retain(s: Storage): void {
    s.refs++;
  }

  /** rt.release(): the last view returns the buffer to the pool; releasing a freed buffer does nothing. */
  release(s: Storage): void {
    if (s.refs <= 0) return;
    if (--s.refs > 0) return;
    this.pool.set(s.size, (this.pool.get(s.size) ?? 0) + 1);
  }

  /** Bytes sitting free in the pool. */
  get pooledBytes(): number {
    let n = 0;
    for (const [size, count] of this.pool) n += size * count;
    return n;
  }
}
