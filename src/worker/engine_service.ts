// What the engine worker does, without the worker: the device, one model, one edit at a time. Every failure leaves
// as an EngineError with a code. Kept free of `self` and postMessage so that Node tests run it on Dawn.
import { acquireDevice, describeAdapter, type GpuContext } from '../engine/gpu/device.ts';
import { rgbaToRgb } from '../engine/image/resize.ts';
import { encodePng } from '../engine/image/png.ts';
import { WebGpuBackend } from '../engine/ops/webgpu/backend.ts';
import { buildPipeline } from '../engine/pipelines/load.ts';
import type { InstructPix2PixPipeline } from '../engine/pipelines/pipeline_instruct_pix2pix.ts';
import { ClipTokenizer } from '../engine/tokenizer/clip_tokenizer.ts';
import type { ModelCache } from '../engine/weights/cache.ts';
import { HostWeightSource, loadPipelineFolder, readPipelineConfigs, type PipelineFolder } from '../engine/weights/diffusers.ts';
import { f32ToHalfBits } from '../engine/weights/f16.ts';
import type { HostTensor } from '../engine/weights/safetensors.ts';
import type { FileSource } from '../engine/weights/sources.ts';
import { cancelled, classify, noWebGpu } from './errors.ts';
import { checkJob, rgbaOf } from './job.ts';
import { chooseOption, DEFAULT_WEIGHT_BUDGET, maxSizeForBinding, weightOptions, type WeightOption } from './model_plan.ts';
import {
  EngineError,
  type AdapterReport,
  type CacheEntry,
  type EditJob,
  type EditOutput,
  type EditProgress,
  type LoadProgress,
  type ModelInfo,
  type ModelPlan,
  type ModelSource,
  type PreviewImage,
} from './protocol.ts';
import { resolveSource, type ResolvedSource, type SourceDeps } from './sources.ts';
import { warmUp } from './warmup.ts';

export interface EngineServiceOptions {
  /** Default: acquireDevice() (navigator.gpu). */
  acquire?: () => Promise<GpuContext>;
  /** How model sources become files (fetch, bundled model location, the download cache). */
  sources?: Omit<SourceDeps, 'signal' | 'onHubProgress'>;
  /** GPU bytes the weights may take (see model_plan.ts). */
  weightBudget?: number;
  /**
   * Activation storage: 'auto' (default) stores activations as f16 where the adapter has shader-f16 (half the
   * memory and bandwidth; the f16 replay of the reference run stays above 50 dB PSNR) and f32 elsewhere.
   */
  activations?: 'auto' | 'f16' | 'f32';
}

export interface EditHooks {
  onProgress?: (p: EditProgress) => void;
  onPreview?: (img: PreviewImage, step: number) => void;
}

interface Gpu {
  ctx: GpuContext;
  be: WebGpuBackend;
  /** Holds (or held) a model's buffers: a new model starts on a fresh device. */
  used: boolean;
}

interface Loaded {
  pipe: InstructPix2PixPipeline;
  info: ModelInfo;
}

export class EngineService {
  private gpu: Gpu | null = null;
  private acquiring: Promise<Gpu> | null = null;
  /** Devices we destroyed ourselves (a model change, dispose): their loss is not news. */
  private readonly retired = new WeakSet<GPUDevice>();
  private loaded: Loaded | null = null;
  /** The model to bring back after a device loss. */
  private last: ModelSource | null = null;
  private planTokenizer: ClipTokenizer | null = null;
  private busy: 'load' | 'edit' | null = null;
  private readonly lostListeners = new Set<(message: string) => void>();

  constructor(private readonly opts: EngineServiceOptions = {}) {}

  // ---- device ------------------------------------------------------------------------------------------------

  private async device(): Promise<Gpu> {
    if (this.gpu) return this.gpu;
    this.acquiring ??= (async () => {
      let ctx: GpuContext;
      try {
        ctx = await (this.opts.acquire ?? (() => acquireDevice()))();
      } catch (e) {
        throw noWebGpu(e);
      }
      const be = new WebGpuBackend(ctx);
      const act = this.opts.activations ?? 'auto';
      be.rt.activationDtype = act === 'f16' || (act === 'auto' && ctx.features.shaderF16) ? 'f16' : 'f32';
      const gpu: Gpu = { ctx, be, used: false };
      ctx.lost.then((info) => this.onLost(gpu, info));
      this.gpu = gpu;
      return gpu;
    })().finally(() => {
      this.acquiring = null;
    });
    return this.acquiring;
  }

  private onLost(gpu: Gpu, info: GPUDeviceLostInfo): void {
    if (this.gpu === gpu) {
      this.gpu = null;
      this.loaded = null; // its weights were on that device; `last` brings it back on the next request
    }
    if (this.retired.has(gpu.ctx.device)) return;
    const message = `The GPU device was lost (${info.message || info.reason}). The model reloads on the next request.`;
    for (const cb of this.lostListeners) cb(message);
  }

  /** Destroys the device (and with it every buffer of the old model). */
  private retire(): void {
    const gpu = this.gpu;
    this.gpu = null;
    this.loaded = null;
    if (!gpu) return;
    this.retired.add(gpu.ctx.device);
    gpu.ctx.device.destroy();
  }

  onDeviceLost(cb: (message: string) => void): () => void {
    this.lostListeners.add(cb);
    return () => this.lostListeners.delete(cb);
  }

  async init(): Promise<AdapterReport> {
    const { ctx } = await this.device();
    return adapterReport(ctx);
  }

  // ---- models ------------------------------------------------------------------------------------------------

  private resolve(src: ModelSource, extra: Pick<SourceDeps, 'signal' | 'onHubProgress'> = {}): ResolvedSource {
    return resolveSource(src, { ...this.opts.sources, ...extra });
  }

  private budget(): number {
    return this.opts.weightBudget ?? DEFAULT_WEIGHT_BUDGET;
  }

  async plan(src: ModelSource): Promise<ModelPlan> {
    try {
      const r = this.resolve(src);
      const { ctx } = await this.device();
      await r.probe?.();
      const seen = new Map<string, number>();
      const configs = await readPipelineConfigs(recording(r.planSource, seen));
      this.planTokenizer = ClipTokenizer.fromFiles(configs.tokenizer);
      const chosen = chooseOption(await weightOptions(r.planSource, r.variant, ctx.limits, this.budget()));
      let files: ModelPlan['files'];
      if (r.hubPlan) {
        const hub = await r.hubPlan();
        files = hub.files.map((f) => ({ path: f.path, bytes: f.bytes, cached: f.cachedBytes === f.bytes }));
      } else {
        const local = r.stage === 'read';
        files = [...seen].map(([path, bytes]) => ({ path, bytes, cached: local }));
        for (const f of chosen.files) files.push({ path: f.path, bytes: f.bytes, cached: local });
      }
      const totalBytes = files.reduce((a, f) => a + f.bytes, 0);
      const cachedBytes = files.reduce((a, f) => a + (f.cached ? f.bytes : 0), 0);
      return {
        files,
        totalBytes,
        cachedBytes,
        fitsAdapter: chosen.fits,
        ...(chosen.needs ? { needs: chosen.needs } : {}),
        variant: chosen.variant,
        dtype: chosen.dtype,
        gpuBytes: chosen.gpuBytes,
        largestTensor: chosen.largest,
      };
    } catch (e) {
      throw classify(e, 'load');
    }
  }

  async load(src: ModelSource, onProgress: (p: LoadProgress) => void = () => {}, signal?: AbortSignal): Promise<ModelInfo> {
    this.claim('load');
    try {
      return await this.loadModel(src, onProgress, signal);
    } catch (e) {
      throw classify(e, 'load');
    } finally {
      this.busy = null;
    }
  }

  private async loadModel(src: ModelSource, onProgress: (p: LoadProgress) => void, signal?: AbortSignal): Promise<ModelInfo> {
    const check = () => {
      if (signal?.aborted) throw cancelled();
    };
    const r = this.resolve(src, {
      signal,
      // A file found whole in the cache is not a download: the read stage reports it ('discarded' does count: it
      // says why a damaged copy is fetched again). Its bytes still count in the next download's loadedBytes.
      onHubProgress: (p) => {
        if (p.phase === 'cached') return;
        onProgress({
          stage: 'download',
          file: p.path,
          loadedBytes: p.loadedBytes,
          totalBytes: p.totalBytes,
          fileLoaded: p.fileLoadedBytes,
          fileTotal: p.fileTotalBytes,
          bytesPerSecond: p.bytesPerSecond,
          ...(p.etaSeconds === null ? {} : { etaSeconds: p.etaSeconds }),
          ...(p.message ? { message: p.message } : {}),
        });
      },
    });
    // 1. a pipeline folder? which weights, and does this adapter hold them? From configs and headers only
    const { ctx } = await this.device();
    await r.probe?.();
    await readPipelineConfigs(r.planSource);
    check();
    const chosen = chooseOption(await weightOptions(r.planSource, r.variant, ctx.limits, this.budget()));
    if (!chosen.fits) {
      throw new EngineError('adapter-too-small', `${r.label} does not fit this GPU: it needs more than the adapter offers`, chosen.needs);
    }
    check();
    // 2. the weights into host memory (the old model stays usable until this succeeds)
    const folder = await this.readWeights(r, chosen, onProgress, check);
    check();
    // 3. onto a fresh device (dropping the old model's buffers with the old device), then every kernel compiled
    if (this.gpu?.used) this.retire();
    const gpu = await this.device();
    gpu.used = true;
    const total = chosen.gpuBytes;
    onProgress({ stage: 'compile', loadedBytes: total, totalBytes: total, message: 'uploading weights to the GPU' });
    const pipe = buildPipeline(gpu.be, folder);
    onProgress({ stage: 'compile', loadedBytes: total, totalBytes: total, message: 'compiling GPU kernels (a tiny warm-up edit)' });
    await warmUp(pipe, gpu.be);
    const info: ModelInfo = { id: r.id, label: r.label, randomWeights: r.randomWeights, sizeBytes: total, dtype: chosen.dtype };
    this.loaded = { pipe, info };
    this.last = src;
    onProgress({ stage: 'ready', loadedBytes: total, totalBytes: total, message: `${r.label} is ready (${chosen.dtype} weights)` });
    return info;
  }

  private async readWeights(r: ResolvedSource, chosen: WeightOption, onProgress: (p: LoadProgress) => void, check: () => void): Promise<PipelineFolder> {
    // Hub files are downloaded (with their own progress) before the loader reads them from the cache.
    const stage = r.hubPlan ? 'read' : r.stage;
    const starts = new Map<string, { start: number; bytes: number }>();
    let at = 0;
    for (const f of chosen.files) {
      starts.set(f.path, { start: at, bytes: f.bytes });
      at += f.bytes;
    }
    const t0 = performance.now();
    let current: string | null = null;
    const emit = (path: string, loadedBytes: number, totalBytes: number) => {
      const f = starts.get(path);
      const secs = (performance.now() - t0) / 1000;
      const rate = secs > 0 ? loadedBytes / secs : 0;
      onProgress({
        stage,
        file: path,
        loadedBytes,
        totalBytes,
        ...(f ? { fileLoaded: Math.min(f.bytes, loadedBytes - f.start), fileTotal: f.bytes } : {}),
        ...(rate > 0 ? { bytesPerSecond: rate, etaSeconds: (totalBytes - loadedBytes) / rate } : {}),
      });
    };
    // The loader counts tensor data only: each file is reported whole (header included) once it is done.
    const finish = (path: string | null) => {
      const f = path === null ? undefined : starts.get(path);
      if (f) emit(path!, f.start + f.bytes, at);
    };
    const folder = await loadPipelineFolder(r.source, {
      variant: chosen.variant,
      onProgress: (p) => {
        check(); // a cancel stops the read at the next chunk
        if (p.path !== current) finish(current);
        current = p.path;
        emit(p.path, p.loadedBytes, p.totalBytes);
      },
    });
    finish(current);
    if (chosen.dtype === 'f16' && chosen.variant === 'fp32') {
      for (const c of Object.keys(folder.weights) as (keyof PipelineFolder['weights'])[]) folder.weights[c] = toF16(folder.weights[c]);
    }
    return folder;
  }

  /** The loaded pipeline; after a device loss, the last model loaded again. */
  private async pipeline(signal?: AbortSignal): Promise<Loaded> {
    if (this.loaded) return this.loaded;
    if (!this.last) throw new EngineError('bad-request', 'No model is loaded: load one first.');
    await this.loadModel(this.last, () => {}, signal);
    return this.loaded!;
  }

  // ---- edits -------------------------------------------------------------------------------------------------

  private claim(what: 'load' | 'edit'): void {
    if (this.busy) {
      throw new EngineError('busy', `Cannot start ${what === 'edit' ? 'an edit' : 'a model load'}: ${this.busy === 'edit' ? 'an edit' : 'a model load'} is running (one at a time).`);
    }
    this.busy = what;
  }

  async edit(job: EditJob, hooks: EditHooks = {}, signal?: AbortSignal): Promise<EditOutput> {
    checkJob(job);
    this.claim('edit');
    const t0 = performance.now();
    try {
      if (signal?.aborted) throw cancelled();
      const { pipe, info } = await this.pipeline(signal);
      const input = rgbaToRgb(job.image.rgba, job.image.width, job.image.height);
      // Keep every activation within one storage binding of this adapter (the size rule then reports `scaled`).
      const gpu = await this.device();
      const maxSize = maxSizeForBinding(
        pipe.parts.vae.config.block_out_channels,
        input.width,
        input.height,
        job.maxSize,
        gpu.ctx.limits.maxStorageBufferBindingSize,
        gpu.be.rt.activationDtype === 'f16' ? 2 : 4,
      );
      const elapsedMs = () => performance.now() - t0;
      const res = await pipe.edit(
        input,
        {
          prompt: job.prompt,
          negativePrompt: job.negativePrompt,
          steps: job.steps,
          guidanceScale: job.textGuidance,
          imageGuidanceScale: job.imageGuidance,
          seed: job.seed,
          scheduler: job.scheduler,
          maxSize,
        },
        {
          signal,
          onProgress: hooks.onProgress && ((p) => hooks.onProgress!({ ...p, elapsedMs: elapsedMs() })),
          onPreview: hooks.onPreview && ((img, step) => hooks.onPreview!(rgbaOf(img), step)),
        },
      );
      const { width, height } = res.image;
      const png = encodePng(res.image.data, width, height, {
        prompt: job.prompt,
        negative_prompt: job.negativePrompt,
        seed: String(job.seed),
        steps: String(job.steps),
        text_guidance: String(job.textGuidance),
        image_guidance: String(job.imageGuidance),
        scheduler: job.scheduler,
        model: info.id,
        Software: 'Retouch',
      });
      return {
        width,
        height,
        rgba: rgbaOf(res.image).data,
        png,
        scaled: res.scaled,
        inputWidth: job.image.width,
        inputHeight: job.image.height,
        ms: performance.now() - t0,
      };
    } catch (e) {
      const err = classify(e, 'edit');
      if (err.code === 'out-of-memory') this.gpu?.be.rt.trim(); // give the pooled buffers back before a smaller try
      throw err;
    } finally {
      this.busy = null;
    }
  }

  /** Content tokens of a prompt (the UI's n/75), with the loaded model's tokenizer or the last planned one's. */
  tokenCount(text: string): number {
    const tok = this.loaded?.pipe.parts.tokenizer ?? this.planTokenizer;
    if (!tok) throw new EngineError('bad-request', 'No tokenizer yet: plan or load a model first.');
    if (typeof text !== 'string') throw new EngineError('bad-request', 'tokenCount: text must be a string');
    return tok.countTokens(text);
  }

  // ---- the download cache --------------------------------------------------------------------------------------

  private cache(): ModelCache {
    const c = this.opts.sources?.cache;
    if (!c) throw new EngineError('internal', 'No model cache here (Cache Storage is not available in this context).');
    return c;
  }

  /** Cached Hub files grouped by repo (one entry per model and server); other entries one by one. */
  async cacheList(): Promise<CacheEntry[]> {
    try {
      const groups = new Map<string, CacheEntry>();
      for (const e of await this.cache().list()) {
        const m = /^(https?:\/\/[^?]*?\/([^/]+\/[^/]+)\/resolve\/)/.exec(e.meta?.url ?? e.key);
        const key = m ? m[1] : e.key;
        const host = m ? new URL(m[1]).host : '';
        const label = m ? `${m[2]}${host === 'huggingface.co' ? '' : ` (${host})`}` : e.key;
        const g = groups.get(key) ?? { key, label, bytes: 0, date: 0 };
        g.bytes += e.bytes;
        g.date = Math.max(g.date, e.updated);
        groups.set(key, g);
      }
      return [...groups.values()].sort((a, b) => b.date - a.date);
    } catch (e) {
      throw classify(e, 'cache');
    }
  }

  /** Deletes one entry of cacheList(): a whole repo (every revision and part) or a single file. */
  async cacheDelete(key: string): Promise<void> {
    try {
      const cache = this.cache();
      if (typeof key !== 'string' || !key) throw new EngineError('bad-request', 'cacheDelete: key must be a non-empty string');
      for (const e of await cache.list()) {
        if (e.key === key || (key.endsWith('/resolve/') && (e.meta?.url ?? e.key).startsWith(key))) await cache.delete(e.key);
      }
    } catch (e) {
      throw classify(e, 'cache');
    }
  }

  async cacheClear(): Promise<void> {
    try {
      await this.cache().clear();
    } catch (e) {
      throw classify(e, 'cache');
    }
  }

  dispose(): void {
    this.last = null;
    this.retire();
  }

  /** Test aid: the context the engine runs on now (null before init or after a loss). */
  get context(): GpuContext | null {
    return this.gpu?.ctx ?? null;
  }
}

// ---- helpers ----------------------------------------------------------------------------------------------------

export function adapterReport(ctx: GpuContext): AdapterReport {
  const limits: Record<string, number> = {};
  for (const k in ctx.device.limits) {
    const v = (ctx.device.limits as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') limits[k] = v;
  }
  return { description: describeAdapter(ctx), info: { ...ctx.adapterInfo }, features: { ...ctx.features }, limits };
}

/** Records the byte size of every text file read (for the plan's file list). */
function recording(src: FileSource, seen: Map<string, number>): FileSource {
  return {
    name: src.name,
    exists: (p) => src.exists(p),
    openSafetensors: (p) => src.openSafetensors(p),
    async readText(p) {
      const text = await src.readText(p);
      seen.set(p, new TextEncoder().encode(text).length);
      return text;
    },
  };
}

/** fp32 weights as f16 (float tensors only), for adapters without room for f32. */
function toF16(w: HostWeightSource): HostWeightSource {
  const out = new Map<string, HostTensor>();
  for (const key of w.keys()) {
    const t = w.tensor(key);
    if (t.dtype === 'F32' || t.dtype === 'BF16') {
      const d = w.data(key);
      out.set(key, { dtype: 'F16', shape: t.shape, data: d.dtype === 'f32' ? f32ToHalfBits(d.data) : d.data });
    } else out.set(key, t);
  }
  return new HostWeightSource(w.name, out);
}
