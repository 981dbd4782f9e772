// The page's one EngineClient (the module worker that runs the model) and the contract's types, imported by the
// UI from here only.
import { EngineClient, EngineError, type EngineErrorCode } from '../worker/client.ts';

export { EngineError };
export type {
  AdapterReport,
  CacheEntry,
  EditJob,
  EditOutput,
  EditProgress,
  EngineErrorCode,
  LoadProgress,
  ModelInfo,
  ModelPlan,
  ModelSource,
  PreviewImage,
  SchedulerChoice as Scheduler,
} from '../worker/client.ts';

let client: EngineClient | null = null;

/** Started on first use: the worker, its WebGPU device and its shaders live as long as the page. */
export function engine(): EngineClient {
  client ??= new EngineClient();
  return client;
}

/** The code and words of any failure (an EngineError from the worker, or anything else thrown on the way). */
export function describeError(e: unknown): { code: EngineErrorCode; message: string; detail?: string } {
  if (e instanceof EngineError) return { code: e.code, message: e.message, detail: e.detail };
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    const x = e as { code: EngineErrorCode; message?: string; detail?: string };
    return { code: x.code, message: x.message ?? String(e), detail: x.detail };
  }
  if (e instanceof DOMException && e.name === 'AbortError') return { code: 'cancelled', message: 'cancelled' };
  return { code: 'internal', message: e instanceof Error ? e.message : String(e) };
}
