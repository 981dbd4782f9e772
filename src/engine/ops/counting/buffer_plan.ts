// The buffer pool's rules, in one place for both users: GpuRuntime (src/engine/gpu/runtime.ts) keeps GPUBuffers
// in a BufferPool, and the cost meter's BufferPlan replays the same pool on sizes alone, so the meter says how
// much GPU memory an edit holds without a GPU. One tensor per buffer (sub-allocating one buffer to several tensors
// fails WebGPU validation when a dispatch reads one range and writes another). The rules:
//   - sizes are rounded up to 16 bytes (at least 16); an op output takes a free buffer of exactly that size or a
//     new one (measured on the meter: size classes or best-fit into larger buffers only add waste, the models
//     repeat a few exact sizes); uploads (weights, host arrays) always get a new buffer; a release returns it;
//   - trim destroys every free buffer (the pipeline calls releaseCached(), a flush then a trim, between stages);
//   - grow-trim: inside one stage sizes can grow, and the smaller buffers then sit idle (the VAE decoder goes
//     from 64x64 to 512x512 in one submission). So while armed (from a trim until the next flush that submits),
//     an output of at least 4 MiB that finds no free buffer and would raise the peak first submits the recorded
//     work and destroys the free buffers, when they hold at least half its size. Disarming at the first flush
//     keeps loops steady: no UNet step after the first does it. The runtime needs every recorded pipeline
//     compiled to submit from inside an op (as after the worker's warm-up); otherwise it skips the grow-trim.

/** What a buffer was created for: an op output, a host upload, or a weight. */
export type BufferKind = 'activation' | 'upload' | 'weight';

/** GpuRuntime's rounding rule: a multiple of 16 bytes, at least 16. */
export function roundBytes(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

export interface PoolPolicy {
  /** Only outputs at least this large may grow-trim (small ones cannot raise the peak by much). */
  growTrimMinBytes: number;
  /** ...and only when the free buffers hold at least this fraction of the output's size. */
  growTrimFreeRatio: number;
}

export const DEFAULT_POOL_POLICY: Readonly<PoolPolicy> = { growTrimMinBytes: 4 * 2 ** 20, growTrimFreeRatio: 0.5 };

/** The counters the pool keeps up to date (GpuRuntime.stats, BufferPlan). */
export interface PoolCounters {
  /** Bytes of every buffer that exists (live, or free in the pool). */
  bytesAllocated: number;
  peakBytes: number;
  /** Largest buffer created (rounded size). */
  maxBufferBytes: number;
}

/** Free buffers by exact rounded size, and the accounting of every buffer created or destroyed. */
export class BufferPool<B> {
  private readonly free = new Map<number, B[]>();
  /** Bytes of the free buffers. */
  freeBytes = 0;
  /** Whether an output may grow-trim: from a trim until the next flush that submits work. */
  armed = true;
  /** Grow-trims so far. */
  growTrims = 0;

  constructor(
    readonly counters: PoolCounters,
    public policy: PoolPolicy = { ...DEFAULT_POOL_POLICY },
  ) {}

  /** A free buffer of exactly `size` (rounded) bytes, taken out of the pool; undefined when there is none. */
  take(size: number): B | undefined {
    const list = this.free.get(size);
    if (!list?.length) return undefined;
    this.freeBytes -= size;
    return list.pop();
  }

  /** A released buffer back into the pool. */
  put(size: number, b: B): void {
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(b);
    this.freeBytes += size;
  }

  /** Whether a new output buffer of `size` bytes (none free) should first submit and destroy the free ones. */
  wantsGrowTrim(size: number): boolean {
    const p = this.policy;
    const c = this.counters;
    return this.armed && this.freeBytes > 0 && size >= p.growTrimMinBytes && this.freeBytes >= p.growTrimFreeRatio * size &&
      c.bytesAllocated + size > c.peakBytes;
  }

  /** Accounts a new buffer of `size` bytes. */
  created(size: number): void {
    const c = this.counters;
    c.bytesAllocated += size;
    c.peakBytes = Math.max(c.peakBytes, c.bytesAllocated);
    c.maxBufferBytes = Math.max(c.maxBufferBytes, size);
  }

  /** Empties the pool (the caller destroys what it returns) and arms grow-trims. */
  drain(): B[] {
    const out: B[] = [];
    for (const list of this.free.values()) out.push(...list);
    this.free.clear();
    this.counters.bytesAllocated -= this.freeBytes;
    this.freeBytes = 0;
    this.armed = true;
    return out;
  }

  /** A flush submitted work: the working set of this stage is known, no more grow-trims until the next trim. */
  disarm(): void {
    this.armed = false;
  }
}

/** One buffer's bookkeeping: its rounded size, the bytes its tensor uses, and the views that hold it. */
export interface Storage {
  readonly size: number;
  readonly bytes: number;
  refs: number;
  readonly kind: BufferKind;
}

/** GpuRuntime's pool on sizes alone, with the peak also kept per stage (the label the caller passes). */
export class BufferPlan implements PoolCounters {
  /** Bytes of every buffer created (live or pooled): GpuRuntime.stats.bytesAllocated. */
  bytesAllocated = 0;
  /** GpuRuntime.stats.peakBytes. */
  peakBytes = 0;
  maxBufferBytes = 0;
  /** Rounded bytes of the weight buffers among bytesAllocated. */
  weightBytes = 0;
  buffersCreated = 0;
  /** What the largest buffer held, e.g. "weight [49408,768]". */
  maxBufferWhat = '';
  /** Highest bytesAllocated seen while each stage allocated. */
  readonly peakByStage = new Map<string, number>();
  readonly pool: BufferPool<null>;

  /** `submit` records a submission of everything pending (a grow-trim submits before destroying). */
  constructor(
    private readonly submit: () => void = () => {},
    policy?: Partial<PoolPolicy>,
  ) {
    this.pool = new BufferPool<null>(this, { ...DEFAULT_POOL_POLICY, ...policy });
  }

  private create(bytes: number, kind: BufferKind, what: string): Storage {
    const size = roundBytes(bytes);
    if (size > this.maxBufferBytes) this.maxBufferWhat = what;
    this.pool.created(size);
    if (kind === 'weight') this.weightBytes += size;
    this.buffersCreated++;
    return { size, bytes, refs: 1, kind };
  }

  private note(stage: string): void {
    this.peakByStage.set(stage, Math.max(this.peakByStage.get(stage) ?? 0, this.bytesAllocated));
  }

  /** rt.empty(): a pooled buffer of the rounded size when one is free, else a new one (maybe after a grow-trim). */
  alloc(bytes: number, what: string, stage = 'other'): Storage {
    const size = roundBytes(bytes);
    let s: Storage;
    if (this.pool.take(size) !== undefined) {
      s = { size, bytes, refs: 1, kind: 'activation' };
    } else {
      if (this.pool.wantsGrowTrim(size)) {
        this.submit();
        this.pool.drain();
        this.pool.growTrims++;
      }
      s = this.create(bytes, 'activation', what);
    }
    this.note(stage);
    return s;
  }

  /** rt.upload(): always a fresh buffer. */
  upload(bytes: number, kind: 'upload' | 'weight', what: string, stage = 'other'): Storage {
    const s = this.create(bytes, kind, what);
    this.note(stage);
    return s;
  }

  /** rt.view(): one more tensor on the same buffer. */
  retain(s: Storage): void {
    s.refs++;
  }

  /** rt.release(): the last view returns the buffer to the pool; releasing a freed buffer does nothing. */
  release(s: Storage): void {
    if (s.refs <= 0) return;
    if (--s.refs > 0) return;
    this.pool.put(s.size, null);
  }

  /** rt.trim() with nothing pending: destroys the free buffers. */
  trim(): void {
    this.pool.drain();
  }

  /** A flush that submitted work (see BufferPool.disarm). */
  submitted(): void {
    this.pool.disarm();
  }

  /** Bytes sitting free in the pool. */
  get pooledBytes(): number {
    return this.pool.freeBytes;
  }
}
