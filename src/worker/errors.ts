// Every failure the engine can meet, as the EngineError code the UI acts on: the loader's, the downloader's, the
// GPU's (lost device, out of memory), cancellation, and WebGPU missing (with what to do in which browser).
import { DeviceLostError, WebGpuUnavailableError } from '../engine/gpu/device.ts';
import { EditCancelled } from '../engine/pipelines/pipeline_instruct_pix2pix.ts';
import { isQuotaExceeded } from '../engine/weights/cache.ts';
import { EngineError } from './protocol.ts';

export const cancelled = () => new EngineError('cancelled', 'cancelled');

/** In a browser that has navigator.gpu but gives no adapter, the engine's own message (written for Node too)
 * is replaced by one for browsers. */
export function noWebGpu(e: unknown): EngineError {
  const message = e instanceof Error ? e.message : String(e);
  const hasApi = typeof (globalThis.navigator as Navigator | undefined)?.gpu !== 'undefined';
  const browser = typeof (globalThis as { WorkerGlobalScope?: unknown; window?: unknown }).WorkerGlobalScope !== 'undefined' ||
    typeof (globalThis as { window?: unknown }).window !== 'undefined';
  if (!(e instanceof WebGpuUnavailableError)) {
    return new EngineError('no-webgpu', `The WebGPU device could not be created: ${message}`, message);
  }
  if (!browser || !hasApi) return new EngineError('no-webgpu', message);
  return new EngineError(
    'no-webgpu',
    'This browser has WebGPU but found no usable GPU adapter. Chrome/Edge 113+: check chrome://gpu and update the ' +
      'graphics driver; on Linux enable chrome://flags/#enable-unsafe-webgpu (and Vulkan). Firefox: set ' +
      'dom.webgpu.enabled in about:config. Safari: Develop > Feature Flags > WebGPU.',
    message,
  );
}

const OOM = /out of memory|exceeds this adapter's maxBufferSize|allocation failed|Array buffer allocation|Invalid typed array length|Invalid array buffer length/i;
const LOADER_ERRORS = new Set(['LoadError', 'SourceError', 'SafetensorsError', 'WeightError', 'ConfigError']);

/** Any failure as an EngineError with the code the UI acts on. */
export function classify(e: unknown, phase: 'load' | 'edit' | 'cache'): EngineError {
  if (e instanceof EngineError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const msg = err.message;
  if (e instanceof EditCancelled || err.name === 'AbortError') return cancelled();
  if (e instanceof DeviceLostError) {
    return new EngineError('device-lost', 'The GPU device was lost during the work. The model reloads on the next request.', msg);
  }
  if (e instanceof WebGpuUnavailableError) return noWebGpu(e);
  if (err.name === 'QuotaError' || isQuotaExceeded(e)) return new EngineError('quota', msg);
  if (OOM.test(msg) || (err instanceof RangeError && /memory|allocat|length/i.test(msg))) {
    const what = phase === 'edit' ? 'this edit' : 'the model';
    return new EngineError('out-of-memory', `Not enough GPU memory for ${what}: try a smaller size.`, msg);
  }
  if (err.name === 'HubError') {
    const kind = (e as { kind?: string }).kind;
    return new EngineError(kind === 'invalid-repo' ? 'bad-request' : 'download', msg);
  }
  if (phase === 'load' && LOADER_ERRORS.has(err.name)) {
    const network = err.name === 'SourceError' && /fetch|HTTP \d|network/i.test(msg);
    const http = err.name === 'SafetensorsError' && /fetching .* failed|HTTP \d|server /i.test(msg);
    return new EngineError(network || http ? 'download' : 'bad-model', msg);
  }
  return new EngineError('internal', msg, err.stack);
}
