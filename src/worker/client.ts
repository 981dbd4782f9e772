// The page's only handle on the engine: promises over the messages of protocol.ts to the module worker. Images go
// out as copies (the page keeps its own) and come back as transferred buffers. If the worker dies, pending calls
// fail with 'internal' and the next call starts a new worker (reloading the last model before an edit).
import {
  EngineError,
  fromWireError,
  type AdapterReport,
  type CacheEntry,
  type EditJob,
  type EditOutput,
  type EditProgress,
  type EngineReply,
  type EngineRequest,
  type LoadProgress,
  type ModelInfo,
  type ModelPlan,
  type ModelSource,
  type PreviewImage,
} from './protocol.ts';

export { EngineError };
export type {
  AdapterReport,
  CacheEntry,
  EditJob,
  EditOutput,
  EditProgress,
  LoadProgress,
  ModelInfo,
  ModelPlan,
  ModelSource,
  PreviewImage,
} from './protocol.ts';
export type { EngineErrorCode, SchedulerChoice } from './protocol.ts';

export interface EditHooks {
  onProgress?(p: EditProgress): void;
  /** RGBA at latent resolution, after each step; `step` counts from 0. */
  onPreview?(img: PreviewImage, step: number): void;
}

interface Pending {
  reply(r: EngineReply): void;
  fail(e: EngineError): void;
}

/** What a final reply carries, or null for an event on the way. */
type Final<T> = (r: EngineReply) => { value: T } | null;

function defaultWorker(): Worker {
  return new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'retouch-engine' });
}

export class EngineClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly lostListeners = new Set<(message: string) => void>();
  /** The last model loaded, to load again in a new worker after a crash. */
  private loadedSource: ModelSource | null = null;
  private restarted = false;
  private disposed = false;

  constructor(private readonly makeWorker: () => Worker = defaultWorker) {}

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = this.makeWorker();
    let answered = false;
    w.onmessage = (ev: MessageEvent<EngineReply>) => {
      answered = true;
      this.onReply(ev.data);
    };
    w.onmessageerror = () => this.crash(w, 'a message from the engine worker could not be read');
    // Before its first reply an error means the worker did not start (a failed import): nothing will ever answer.
    // Later, an uncaught error is logged; the worker and its model go on (each request still gets its reply).
    w.onerror = (ev) => {
      ev.preventDefault();
      if (!answered) this.crash(w, ev.message || 'the engine worker failed to load');
      else console.warn(`[engine] uncaught in the worker: ${ev.message}`);
    };
    this.worker = w;
    return w;
  }

  private crash(w: Worker, why: string): void {
    if (this.worker !== w) return;
    w.terminate();
    this.worker = null;
    this.restarted = true;
    const err = new EngineError('internal', `The engine worker stopped: ${why}`);
    for (const p of [...this.pending.values()]) p.fail(err);
  }

  private onReply(r: EngineReply): void {
    if (r.type === 'deviceLost') {
      for (const cb of this.lostListeners) cb(r.message);
      return;
    }
    const p = this.pending.get(r.id);
    if (p) p.reply(r);
    else if (r.type === 'error') console.warn(`[engine] ${r.error.code}: ${r.error.message}`);
  }

  private call<T>(
    make: (id: number) => EngineRequest,
    final: Final<T>,
    opts: { transfer?: Transferable[]; onEvent?: (r: EngineReply) => void; signal?: AbortSignal } = {},
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.disposed) return reject(new EngineError('cancelled', 'The engine was disposed.'));
      if (opts.signal?.aborted) return reject(new EngineError('cancelled', 'cancelled'));
      const w = this.ensureWorker();
      const req = make(this.nextId++);
      const onAbort = () => {
        const cancel: EngineRequest = { type: 'cancel', id: this.nextId++, target: req.id };
        this.worker?.postMessage(cancel);
      };
      const done = () => {
        this.pending.delete(req.id);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      this.pending.set(req.id, {
        reply: (r) => {
          if (r.type === 'error') {
            done();
            return reject(fromWireError(r.error));
          }
          const f = final(r);
          if (f) {
            done();
            resolve(f.value);
          } else opts.onEvent?.(r);
        },
        fail: (e) => {
          done();
          reject(e);
        },
      });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      w.postMessage(req, opts.transfer ?? []);
    });
  }

  /** Acquires the worker's WebGPU device; rejects with code 'no-webgpu' (the message says which browsers/flags). */
  init(): Promise<AdapterReport> {
    return this.call((id) => ({ type: 'init', id }), (r) => (r.type === 'ready' ? { value: r.adapter } : null));
  }

  /** Sizes and whether the adapter can hold the model: configs and weight headers only, nothing else downloaded. */
  plan(src: ModelSource): Promise<ModelPlan> {
    return this.call((id) => ({ type: 'plan', id, source: src }), (r) => (r.type === 'plan' ? { value: r.plan } : null));
  }

  async load(src: ModelSource, onProgress: (p: LoadProgress) => void, signal?: AbortSignal): Promise<ModelInfo> {
    const model = await this.call(
      (id) => ({ type: 'load', id, source: src }),
      (r) => (r.type === 'loaded' ? { value: r.model } : null),
      { signal, onEvent: (r) => r.type === 'loadProgress' && onProgress(r.progress) },
    );
    this.loadedSource = src;
    this.restarted = false;
    return model;
  }

  async edit(job: EditJob, hooks: EditHooks, signal?: AbortSignal): Promise<EditOutput> {
    if (this.restarted && this.loadedSource) await this.load(this.loadedSource, () => {}, signal);
    // A copy goes over (its buffer transferred): the page keeps its image.
    const rgba = new Uint8ClampedArray(job.image.rgba);
    const sent: EditJob = { ...job, image: { width: job.image.width, height: job.image.height, rgba } };
    return this.call(
      (id) => ({ type: 'edit', id, job: sent }),
      (r) => (r.type === 'result' ? { value: r.output } : null),
      {
        signal,
        transfer: [rgba.buffer],
        onEvent: (r) => {
          if (r.type === 'progress') hooks.onProgress?.(r.progress);
          else if (r.type === 'preview') hooks.onPreview?.(r.image, r.step);
        },
      },
    );
  }

  /** Content tokens of a prompt (the n/75 counter); needs a planned or loaded model's tokenizer. */
  tokenCount(text: string): Promise<number> {
    return this.call((id) => ({ type: 'tokenCount', id, text }), (r) => (r.type === 'tokenCount' ? { value: r.count } : null));
  }

  /** Cached downloads, one entry per Hub model (all its files and revisions). */
  cacheList(): Promise<CacheEntry[]> {
    return this.call((id) => ({ type: 'cacheList', id }), (r) => (r.type === 'cacheList' ? { value: r.entries } : null));
  }

  cacheDelete(key: string): Promise<void> {
    return this.call((id) => ({ type: 'cacheDelete', id, key }), (r) => (r.type === 'done' ? { value: undefined } : null));
  }

  cacheClear(): Promise<void> {
    return this.call((id) => ({ type: 'cacheClear', id }), (r) => (r.type === 'done' ? { value: undefined } : null));
  }

  /** The worker lost its GPU device; it gets a new one (and reloads the model) on the next call. Returns an
   * unsubscribe function. */
  onDeviceLost(cb: (message: string) => void): () => void {
    this.lostListeners.add(cb);
    return () => this.lostListeners.delete(cb);
  }

  /** Stops the worker (and its device); pending calls fail with 'cancelled'. */
  dispose(): void {
    this.disposed = true;
    this.worker?.terminate();
    this.worker = null;
    const err = new EngineError('cancelled', 'The engine was disposed.');
    for (const p of [...this.pending.values()]) p.fail(err);
  }
}
