// The engine's module worker: one EngineService on this thread's own WebGPU device, reached only through the
// messages of protocol.ts, so model loads and edits never block the page.
import { BrowserCache } from '../engine/weights/cache.ts';
import { EngineService } from './engine_service.ts';
import { EngineHost } from './host.ts';
import type { EngineReply, EngineRequest } from './protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;

// Cache Storage exists only in secure contexts (https, localhost); without it Hub models load without caching.
const cache = typeof caches !== 'undefined' ? new BrowserCache() : undefined;
const service = new EngineService({
  sources: { cache, bundledBase: new URL(`${import.meta.env.BASE_URL}models/`, scope.location.href).href },
});
const host = new EngineHost(service, (reply, transfer) => scope.postMessage(reply, transfer));

scope.onmessage = (ev: MessageEvent<EngineRequest>) => void host.handle(ev.data);

// Nothing should get here (host.handle never rejects); if something does, say so instead of failing silently.
scope.addEventListener('unhandledrejection', (ev) => {
  ev.preventDefault();
  const message = ev.reason instanceof Error ? ev.reason.message : String(ev.reason);
  const reply: EngineReply = { type: 'error', id: 0, error: { code: 'internal', message: `engine worker: ${message}` } };
  scope.postMessage(reply);
});
