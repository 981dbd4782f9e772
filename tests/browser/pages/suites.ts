// Shared by the test page and its module worker: finds tests/browser/suites/<name>.ts through Vite's glob (so the
// suite is bundled the same way engine code will be in the app) and the typed messages between page and worker.

/** A suite's default export: JSON-serializable args in, JSON-serializable result out. */
export type Suite = (args: unknown) => Promise<unknown> | unknown;

const modules = import.meta.glob<{ default: Suite }>('../suites/*.ts');

export function suiteNames(): string[] {
  return Object.keys(modules).map((p) => p.replace(/^.*\//, '').replace(/\.ts$/, ''));
}

export async function runSuite(name: string, args: unknown): Promise<unknown> {
  const load = modules[`../suites/${name}.ts`];
  if (!load) throw new Error(`no browser suite '${name}' (have: ${suiteNames().join(', ')})`);
  const mod = await load();
  if (typeof mod.default !== 'function') throw new Error(`suite '${name}' has no default export function`);
  return mod.default(args);
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

/** Page -> worker. */
export interface RunRequest {
  type: 'run';
  id: number;
  suite: string;
  args: unknown;
}

/** Worker -> page: every request gets exactly one reply with its id. */
export type RunReply =
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: SerializedError };
