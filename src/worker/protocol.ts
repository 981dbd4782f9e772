// The one typed module between the page (client.ts) and the engine worker (engine.worker.ts): a union of requests,
// a union of replies and events, an `id` on every message, errors as data with a code, images as transferables.

// ---- the values the page sees ---------------------------------------------------------------------------------

/** Where a model comes from. Only plain data, so it can be posted to the worker (File objects clone fine). */
export type ModelSource =
  | { kind: 'hub'; repo: string; revision: string; baseUrl: string; variant: 'fp16' | 'fp32' }
  | { kind: 'url'; url: string; variant: 'fp16' | 'fp32' | 'auto' }
  /** A folder the user picked or dropped (paths from webkitRelativePath, else from the File names). */
  | { kind: 'files'; files: File[] }
  /** Served at <base>/models/tiny-ip2p: a tiny model with random weights, for trying the app out and for tests. */
  | { kind: 'bundled'; name: 'tiny-ip2p' };

export interface AdapterReport {
  /** One line: vendor / architecture / device / description, then features and the binding limit. */
  description: string;
  info: { vendor: string; architecture: string; device: string; description: string };
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  /** Every limit of the device the engine runs on. */
  limits: Record<string, number>;
}

export interface PlanFile {
  path: string;
  bytes: number;
  /** Already on this machine (picked files, or in the browser's model cache): nothing to download. */
  cached: boolean;
}

export interface ModelPlan {
  files: PlanFile[];
  totalBytes: number;
  cachedBytes: number;
  /** Whether this adapter can hold the weights (largest tensor per binding, total within the budget). */
  fitsAdapter: boolean;
  /** What is missing when it does not fit, in words. */
  needs?: string;
  /** The weight files the load will read, and how the weights will sit on the GPU (fp32 files may go as f16). */
  variant: 'fp16' | 'fp32';
  dtype: 'f16' | 'f32';
  /** Bytes of weights on the GPU, and the largest single weight (it must fit one storage binding). */
  gpuBytes: number;
  largestTensor: { name: string; bytes: number };
}

export interface LoadProgress {
  stage: 'download' | 'read' | 'compile' | 'ready';
  file?: string;
  loadedBytes: number;
  totalBytes: number;
  fileLoaded?: number;
  fileTotal?: number;
  bytesPerSecond?: number;
  etaSeconds?: number;
  message?: string;
}

export interface ModelInfo {
  id: string;
  label: string;
  randomWeights: boolean;
  /** Bytes of weights on the GPU. */
  sizeBytes: number;
  /** 'f16' or 'f32': how the weights sit on the GPU. */
  dtype: string;
}

export type SchedulerChoice = 'euler-ancestral' | 'euler' | 'ddim' | 'dpm++2m';

export interface EditJob {
  /** RGBA, 4 bytes per pixel, row-major (ImageData's layout); alpha is dropped. */
  image: { width: number; height: number; rgba: Uint8ClampedArray };
  prompt: string;
  negativePrompt: string;
  steps: number;
  textGuidance: number;
  imageGuidance: number;
  seed: number;
  scheduler: SchedulerChoice;
  /** Longest side after scaling down; both sides are then rounded down to multiples of 8. */
  maxSize: number;
}

export interface EditProgress {
  stage: 'encode' | 'denoise' | 'decode';
  /** Steps done. */
  step: number;
  steps: number;
  elapsedMs: number;
}

/** ImageData-like: RGBA at latent resolution (the UI scales it up). */
export interface PreviewImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export interface EditOutput {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  /** The result as PNG with text chunks: prompt, negative_prompt, seed, steps, text_guidance, image_guidance,
   * scheduler, model, Software. */
  png: Uint8Array;
  /** The size rule changed the input (scaled down to maxSize and/or sides rounded down to multiples of 8). */
  scaled: boolean;
  inputWidth: number;
  inputHeight: number;
  ms: number;
}

export interface CacheEntry {
  key: string;
  label: string;
  bytes: number;
  /** ms since the epoch. */
  date: number;
}

// ---- errors -------------------------------------------------------------------------------------------------

export const ERROR_CODES = [
  'no-webgpu',
  'adapter-too-small',
  'bad-image',
  'bad-model',
  'download',
  'quota',
  'device-lost',
  'out-of-memory',
  'cancelled',
  'busy', // another edit or load is running (one at a time)
  'bad-request', // a parameter out of range, or a message the worker does not know
  'internal',
] as const;
export type EngineErrorCode = (typeof ERROR_CODES)[number];

export class EngineError extends Error {
  override name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

export interface WireError {
  code: EngineErrorCode;
  message: string;
  detail?: string;
}

export function toWireError(e: EngineError): WireError {
  return e.detail === undefined ? { code: e.code, message: e.message } : { code: e.code, message: e.message, detail: e.detail };
}

export function fromWireError(w: WireError): EngineError {
  const code = (ERROR_CODES as readonly string[]).includes(w.code) ? w.code : 'internal';
  return new EngineError(code, w.message, w.detail);
}

// ---- messages -----------------------------------------------------------------------------------------------

/** Page -> worker. Every request gets exactly one final reply with its id ('error' included); `cancel` gets none. */
export type EngineRequest =
  | { type: 'init'; id: number }
  | { type: 'plan'; id: number; source: ModelSource }
  | { type: 'load'; id: number; source: ModelSource }
  /** job.image.rgba's buffer is transferred. */
  | { type: 'edit'; id: number; job: EditJob }
  /** Stops request `target` (a load or an edit) at the next step; it then fails with 'cancelled'. */
  | { type: 'cancel'; id: number; target: number }
  | { type: 'tokenCount'; id: number; text: string }
  | { type: 'cacheList'; id: number }
  | { type: 'cacheDelete'; id: number; key: string }
  | { type: 'cacheClear'; id: number };

export type RequestType = EngineRequest['type'];

/** Worker -> page: final replies (ready, plan, loaded, result, tokenCount, cacheList, done, error) and events on the
 * way (loadProgress, progress, preview), all with the id of their request; deviceLost is unsolicited (id 0). */
export type EngineReply =
  | { type: 'ready'; id: number; adapter: AdapterReport }
  | { type: 'plan'; id: number; plan: ModelPlan }
  | { type: 'loadProgress'; id: number; progress: LoadProgress }
  | { type: 'loaded'; id: number; model: ModelInfo }
  | { type: 'progress'; id: number; progress: EditProgress }
  /** image.data's buffer is transferred. */
  | { type: 'preview'; id: number; step: number; image: PreviewImage }
  /** output.rgba's and output.png's buffers are transferred. */
  | { type: 'result'; id: number; output: EditOutput }
  | { type: 'tokenCount'; id: number; count: number }
  | { type: 'cacheList'; id: number; entries: CacheEntry[] }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'deviceLost'; id: 0; message: string };

/** The buffers a reply hands over (so the worker keeps no copy). */
export function replyTransfer(r: EngineReply): Transferable[] {
  if (r.type === 'preview') return [r.image.data.buffer as ArrayBuffer];
  if (r.type === 'result') return [r.output.rgba.buffer as ArrayBuffer, r.output.png.buffer as ArrayBuffer];
  return [];
}
