// The WebGPU runtime: tensors on buffers, a buffer pool, pipelines built once (asynchronously) and cached, and a
// recorder. Ops record dispatches; flush() awaits the pipelines, encodes everything into one command buffer and
// submits it once. Within one submission WebGPU orders dispatches, so a buffer freed by one op can be reused by
// a later op's output right away. Uploads always get a fresh mapped buffer, so they never race pending work.
// The pool's rules (exact sizes, trims, grow-trims) live in ops/counting/buffer_plan.ts, shared with the meter;
// free buffers are destroyed only when no recorded, unsubmitted dispatch can still refer to them.
import { DeviceLostError, type GpuContext } from './device.ts';
import { packParams, typedBindings, weightPrelude, type KernelSpec, type StorageKind } from './kernel.ts';
import { loadShader } from './shader_source.ts';
import { BufferPool, DEFAULT_POOL_POLICY, roundBytes, type PoolPolicy } from '../ops/counting/buffer_plan.ts';
import type { DType, Tensor } from '../ops/ops.ts';
import { numel, shapeStr } from '../ops/ops.ts';

interface Storage {
  buffer: GPUBuffer;
  bytes: number;
  refs: number;
  /** Allocated with a sentinel region after the data (GpuRuntime.sentinel). */
  guarded?: boolean;
}

export class GpuTensor implements Tensor {
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** @internal */ readonly storage: Storage,
  ) {}
  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }
  get size(): number {
    return numel(this.shape);
  }
}

interface Recorded {
  pipeline: Promise<GPUComputePipeline>;
  buffers: GPUBuffer[];
  params: ArrayBuffer;
  workgroups: [number, number, number];
  label: string;
}

interface Copy {
  src: GPUBuffer;
  dst: GPUBuffer;
  bytes: number;
}

const UNIFORM_ALIGN = 256;
export const SENTINEL_BYTES = 1024;
const SENTINEL_WORD = 0x7fbadbad;

export interface RuntimeStats {
  dispatches: number;
  submits: number;
  readbacks: number;
  bytesAllocated: number;
  peakBytes: number;
  /** Largest buffer created (rounded size). */
  maxBufferBytes: number;
  /** Largest buffer bound to a recorded dispatch (what maxStorageBufferBindingSize must allow). */
  maxBindingBytes: number;
  /** Times the pool submitted early and destroyed its free buffers rather than grow (see buffer_plan.ts). */
  growTrims: number;
}

export class GpuRuntime {
  readonly device: GPUDevice;
  private pipelines = new Map<string, Promise<GPUComputePipeline>>();
  /** Pipelines whose promise has resolved: what a submission made outside flush() can use. */
  private ready = new WeakMap<Promise<GPUComputePipeline>, GPUComputePipeline>();
  private recorded: Recorded[] = [];
  private copies: Copy[] = [];
  private lostMessage: string | null = null;
  readonly stats: RuntimeStats = {
    dispatches: 0, submits: 0, readbacks: 0, bytesAllocated: 0, peakBytes: 0, maxBufferBytes: 0, maxBindingBytes: 0, growTrims: 0,
  };
  private pool = new BufferPool<GPUBuffer>(this.stats);
  /** flush() calls not finished yet (their batch may be taken but not submitted). */
  private inFlight = 0;
  /** trim() was called with work pending: destroy the free buffers after the next submission. */
  private trimAfterFlush = false;
  /** Error checks of submissions made outside flush(), reported by the next flush. */
  private pendingChecks: Promise<Error | null>[] = [];

  constructor(readonly ctx: GpuContext) {
    this.device = ctx.device;
    ctx.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lostMessage = `GPU device lost: ${info.message || info.reason}`;
      else this.lostMessage = 'GPU device was destroyed';
    });
  }

  get f16(): boolean {
    return this.ctx.features.shaderF16;
  }

  private actDtype: DType = 'f32';

  /** Storage type of activations (op outputs of the network ops): 'f16' only where the device has shader-f16. */
  get activationDtype(): DType {
    return this.actDtype;
  }

  set activationDtype(d: DType) {
    if (d === 'f16' && !this.f16) throw new Error('f16 activations need the shader-f16 feature, which this adapter lacks');
    this.actDtype = d;
  }

  private checkAlive(): void {
    if (this.lostMessage) throw new DeviceLostError(this.lostMessage);
  }

  // ---- buffers ---------------------------------------------------------------------------------------------
  private static roundBytes(bytes: number): number {
    return roundBytes(bytes);
  }

  /** The pool's grow-trim thresholds (tests lower them to reach grow-trims with small tensors). */
  setPoolPolicy(p: Partial<PoolPolicy>): void {
    this.pool.policy = { ...DEFAULT_POOL_POLICY, ...p };
  }

  private allocate(bytes: number): GPUBuffer {
    const size = GpuRuntime.roundBytes(bytes);
    const free = this.pool.take(size);
    if (free) return free;
    if (size > this.ctx.limits.maxBufferSize) {
      throw new Error(`buffer of ${size} bytes exceeds this adapter's maxBufferSize ${this.ctx.limits.maxBufferSize}`);
    }
    // rather than grow past the peak while free buffers of other sizes sit idle: submit, then destroy them
    if (this.pool.wantsGrowTrim(size) && this.submitRecordedNow()) {
      this.destroyFree();
      this.stats.growTrims++;
    }
    this.pool.created(size);
    return this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  /**
   * Test aid: when set, every op output gets SENTINEL_BYTES extra bytes filled with a marker after its data, and
   * checkSentinel() tells whether a kernel wrote past the end of its output.
   */
  sentinel = false;

  /** A new tensor for an op's output (pooled storage, contents undefined). */
  empty(shape: readonly number[], dtype: DType = 'f32'): GpuTensor {
    this.checkAlive();
    const bytes = byteLength(shape, dtype);
    if (this.sentinel) return this.sentinelTensor(shape, dtype, bytes);
    return new GpuTensor(shape, dtype, { buffer: this.allocate(bytes), bytes, refs: 1 });
  }

  private sentinelTensor(shape: readonly number[], dtype: DType, bytes: number): GpuTensor {
    const size = GpuRuntime.roundBytes(bytes) + SENTINEL_BYTES;
    const buffer = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      mappedAtCreation: true,
    });
    new Uint32Array(buffer.getMappedRange()).fill(SENTINEL_WORD);
    buffer.unmap();
    return new GpuTensor(shape, dtype, { buffer, bytes, refs: 1, guarded: true });
  }

  /** Throws when anything after the tensor's data (inside its buffer) differs from the sentinel marker. */
  async checkSentinel(t: GpuTensor, what = 'output'): Promise<void> {
    if (!t.storage.guarded) {
      throw new Error(`${what} ${shapeStr(t.shape)} has no sentinel region (uploaded, or made before rt.sentinel was set)`);
    }
    const start = Math.ceil(t.storage.bytes / 4) * 4;
    const n = t.buffer.size - start;
    if (n <= 0) return;
    const staging = this.device.createBuffer({ size: n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    await this.flush();
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(t.buffer, start, staging, 0, n);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const words = new Uint32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    // Bytes between the data end and the next word boundary belong to an f16 tail half: skip that word if partial.
    const skip = t.storage.bytes % 4 ? 1 : 0;
    for (let i = skip; i < words.length; i++) {
      if (words[i] !== SENTINEL_WORD) {
        throw new Error(`${what} ${shapeStr(t.shape)}: out-of-bounds write at byte ${start + i * 4} past its data`);
      }
    }
  }

  /** Uploads host data into a fresh buffer. f16 data is given as raw half bits. */
  upload(data: Float32Array | Uint16Array | Int32Array | Uint32Array, shape: readonly number[], dtype: DType): GpuTensor {
    this.checkAlive();
    const bytes = data.byteLength;
    const expect = dtype === 'f16' ? numel(shape) * 2 : numel(shape) * 4;
    if (bytes !== expect) throw new Error(`upload ${shapeStr(shape)} ${dtype}: got ${bytes} bytes, expected ${expect}`);
    const size = GpuRuntime.roundBytes(bytes);
    if (size > this.ctx.limits.maxBufferSize) {
      throw new Error(`tensor ${shapeStr(shape)} (${size} bytes) exceeds this adapter's maxBufferSize`);
    }
    const buffer = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      mappedAtCreation: true,
    });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, bytes));
    buffer.unmap();
    this.pool.created(size);
    return new GpuTensor(shape, dtype, { buffer, bytes, refs: 1 });
  }

  view(t: GpuTensor, shape: readonly number[]): GpuTensor {
    if (numel(shape) !== t.size) throw new Error(`reshape ${shapeStr(t.shape)} -> ${shapeStr(shape)}: sizes differ`);
    t.storage.refs++;
    return new GpuTensor(shape, t.dtype, t.storage);
  }

  release(t: GpuTensor): void {
    const s = t.storage;
    if (s.refs <= 0) return;
    if (--s.refs > 0) return;
    this.pool.put(s.buffer.size, s.buffer);
  }

  /**
   * Destroys the pooled (free) buffers. A free buffer may still be bound by recorded work that is not submitted
   * yet: then they are destroyed right after the next flush submits it.
   */
  trim(): void {
    if (this.recorded.length || this.copies.length || this.inFlight) this.trimAfterFlush = true;
    else this.destroyFree();
  }

  /** Submits what is recorded, then destroys the free buffers: between stages, so that each starts from its weights. */
  async releaseCached(): Promise<void> {
    await this.flush();
    this.trim();
  }

  private destroyFree(): void {
    this.trimAfterFlush = false;
    for (const b of this.pool.drain()) b.destroy();
  }

  // ---- kernels ---------------------------------------------------------------------------------------------
  storageKind(t: GpuTensor): StorageKind {
    if (t.dtype === 'f32') return 'f32';
    return this.f16 ? 'f16' : 'f16packed';
  }

  pipeline(spec: KernelSpec, kinds: Readonly<Record<string, StorageKind>> = {}, constants: Record<string, number> = {}) {
    const kindKey = typedBindings(spec).map((w) => kinds[w] ?? 'f32').join(',');
    const key = `${spec.shader}:${spec.entry ?? 'main'}:${kindKey}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = (async () => {
        const src = weightPrelude(spec, kinds) + (await loadShader(spec.shader));
        const module = this.device.createShaderModule({ label: spec.shader, code: src });
        const overrides: Record<string, number> = { ...constants };
        if (spec.workgroupSize && overrides.WG === undefined) overrides.WG = spec.workgroupSize;
        return this.device.createComputePipelineAsync({
          label: key,
          layout: 'auto',
          compute: { module, entryPoint: spec.entry ?? 'main', constants: overrides },
        });
      })();
      const pipeline = p;
      pipeline.then((v) => this.ready.set(pipeline, v), () => this.pipelines.delete(key));
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Records one dispatch. `buffers` follow spec.bindings; `params` fill the Params uniform.
   * Workgroup counts over the adapter's 65535 per-dimension limit are the caller's job to fold.
   */
  dispatch(
    spec: KernelSpec,
    tensors: readonly GpuTensor[],
    params: Readonly<Record<string, number>>,
    workgroups: readonly [number, number?, number?],
    constants: Record<string, number> = {},
  ): void {
    this.checkAlive();
    if (tensors.length !== spec.bindings.length) {
      throw new Error(`${spec.shader}: ${tensors.length} buffers for ${spec.bindings.length} bindings`);
    }
    const kinds: Record<string, StorageKind> = {};
    for (const w of typedBindings(spec)) kinds[w] = this.storageKind(tensors[spec.bindings.indexOf(w)]);
    const wg: [number, number, number] = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
    if (wg.some((n) => n > 65535)) throw new Error(`${spec.shader}: workgroup count ${wg} over 65535`);
    if (wg.some((n) => n === 0)) return;
    for (const t of tensors) this.stats.maxBindingBytes = Math.max(this.stats.maxBindingBytes, t.buffer.size);
    this.recorded.push({
      pipeline: this.pipeline(spec, kinds, constants),
      buffers: tensors.map((t) => t.buffer),
      params: packParams(spec, params),
      workgroups: wg,
      label: spec.shader,
    });
  }

  private flushChain: Promise<void> = Promise.resolve();

  /**
   * Submits everything recorded so far as one command buffer. Flushes run one after another: a second flush
   * (e.g. a concurrent read) must not submit its commands before an earlier one, still awaiting its pipelines.
   */
  flush(): Promise<void> {
    this.inFlight++;
    const p = this.flushChain.then(() => this.flushNow()).finally(() => this.inFlight--);
    this.flushChain = p.catch(() => {});
    return p;
  }

  private async flushNow(): Promise<void> {
    this.checkAlive();
    if (this.recorded.length || this.copies.length) {
      const recorded = this.recorded;
      const copies = this.copies;
      this.recorded = [];
      this.copies = [];
      this.pool.disarm();
      const pipelines = await Promise.all(recorded.map((r) => r.pipeline));
      this.checkAlive();
      this.pendingChecks.push(this.submit(recorded, copies, pipelines));
    }
    if (this.trimAfterFlush && !this.recorded.length && !this.copies.length) this.destroyFree();
    const checks = this.pendingChecks;
    this.pendingChecks = [];
    for (const e of await Promise.all(checks)) if (e) throw e;
  }

  /**
   * Submits the recorded work now, without waiting (a grow-trim, from inside an op): possible when no flush is
   * under way and every recorded pipeline is compiled. Returns whether nothing recorded is left unsubmitted.
   */
  private submitRecordedNow(): boolean {
    if (this.lostMessage || this.inFlight) return false;
    if (!this.recorded.length && !this.copies.length) return true;
    const pipelines = this.recorded.map((r) => this.ready.get(r.pipeline));
    if (pipelines.some((p) => !p)) return false;
    const recorded = this.recorded;
    const copies = this.copies;
    this.recorded = [];
    this.copies = [];
    this.pendingChecks.push(this.submit(recorded, copies, pipelines as GPUComputePipeline[]));
    return true;
  }

  /** Encodes and submits one command buffer; resolves to its out-of-memory or validation error, if any. */
  private submit(recorded: Recorded[], copies: Copy[], pipelines: GPUComputePipeline[]): Promise<Error | null> {
    const device = this.device;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let uniform: GPUBuffer | null = null;
    if (recorded.length) {
      const stride = UNIFORM_ALIGN;
      const ubytes = new Uint8Array(recorded.length * stride);
      recorded.forEach((r, i) => ubytes.set(new Uint8Array(r.params), i * stride));
      uniform = device.createBuffer({ size: ubytes.byteLength, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
      new Uint8Array(uniform.getMappedRange()).set(ubytes);
      uniform.unmap();
    }
    const enc = device.createCommandEncoder();
    if (recorded.length) {
      const pass = enc.beginComputePass();
      recorded.forEach((r, i) => {
        const p = pipelines[i];
        const entries: GPUBindGroupEntry[] = r.buffers.map((buffer, b) => ({ binding: b, resource: { buffer } }));
        entries.push({
          binding: r.buffers.length,
          resource: { buffer: uniform!, offset: i * UNIFORM_ALIGN, size: r.params.byteLength },
        });
        pass.setPipeline(p);
        pass.setBindGroup(0, device.createBindGroup({ layout: p.getBindGroupLayout(0), entries }));
        pass.dispatchWorkgroups(r.workgroups[0], r.workgroups[1], r.workgroups[2]);
      });
      pass.end();
    }
    for (const c of copies) enc.copyBufferToBuffer(c.src, 0, c.dst, 0, c.bytes);
    device.queue.submit([enc.finish()]);
    this.stats.dispatches += recorded.length;
    this.stats.submits++;
    const validation = device.popErrorScope();
    const oom = device.popErrorScope();
    return Promise.all([validation, oom]).then(([v, o]) => {
      uniform?.destroy();
      if (o) return new Error(`GPU out of memory: ${o.message}. Try a smaller image size.`);
      if (v) return new Error(`WebGPU validation error: ${v.message}`);
      return null;
    }, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  }

  /** Reads a tensor back to the host as f32 (f16 storage is widened). */
  async read(t: GpuTensor): Promise<Float32Array> {
    const raw = await this.readRaw(t);
    if (t.dtype === 'f32') return new Float32Array(raw);
    return f16BitsToF32(new Uint16Array(raw, 0, t.size));
  }

  async readRaw(t: GpuTensor): Promise<ArrayBuffer> {
    const bytes = Math.ceil(t.storage.bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copies.push({ src: t.buffer, dst: staging, bytes });
    await this.flush();
    this.stats.readbacks++;
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.checkAlive();
      throw e;
    }
    const out = staging.getMappedRange().slice(0, byteLength(t.shape, t.dtype));
    staging.unmap();
    staging.destroy();
    return out;
  }
}

export function byteLength(shape: readonly number[], dtype: DType): number {
  return numel(shape) * (dtype === 'f16' ? 2 : 4);
}

export function f16BitsToF32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = halfToFloat(h[i]);
  return out;
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
