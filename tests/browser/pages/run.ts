// Entry of run.html: exposes window.__retouch so that Node tests (through Playwright) can run a named suite on the
// page's main thread or in a module worker and get its JSON result back.
import { runSuite, suiteNames, type RunReply, type RunRequest, type SerializedError } from './suites.ts';

export interface RetouchTestApi {
  run(suite: string, args?: unknown): Promise<unknown>;
  runInWorker(suite: string, args?: unknown): Promise<unknown>;
  suites(): string[];
}

declare global {
  interface Window {
    __retouch?: RetouchTestApi;
  }
}

function revive(e: SerializedError): Error {
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./run.worker.ts', import.meta.url), { type: 'module', name: 'retouch-test' });
  w.onmessage = (ev: MessageEvent<RunReply>) => {
    const msg = ev.data;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.type === 'result') p.resolve(msg.result);
    else p.reject(revive(msg.error));
  };
  // A worker that fails to load or throws outside a request fails every request in flight.
  w.onerror = (ev) => {
    ev.preventDefault();
    const err = new Error(`test worker error: ${ev.message || 'failed to load run.worker.ts'}`);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = null;
  };
  worker = w;
  return w;
}

window.__retouch = {
  run: (suite, args) => Promise.resolve().then(() => runSuite(suite, args)),
  runInWorker: (suite, args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      const req: RunRequest = { type: 'run', id, suite, args };
      getWorker().postMessage(req);
    }),
  suites: suiteNames,
};
document.body.dataset.ready = 'true';
