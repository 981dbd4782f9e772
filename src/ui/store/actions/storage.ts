// The Storage panel's actions: list what the engine cached (models, sizes), free one or all, and read how much
// room the browser grants this site.
import { describeError, engine } from '../../engine.ts';
import { getState, setState } from '../index.ts';
import { planModel } from './select_model.ts';

async function estimate(): Promise<void> {
  try {
    const e = await navigator.storage?.estimate?.();
    if (e) setState({ estimate: { usage: e.usage ?? 0, quota: e.quota ?? 0 } });
  } catch {
    /* not offered (e.g. an insecure context): the panel leaves the line out */
  }
}

export async function refreshStorage(): Promise<void> {
  if (getState().gpu !== 'ready') return;
  setState({ cacheState: 'pending', cacheError: null });
  void estimate();
  try {
    const cache = await engine().cacheList();
    setState({ cache, cacheState: 'ready' });
  } catch (e) {
    setState({ cacheState: 'failed', cacheError: describeError(e).message });
  }
}

async function change(op: () => Promise<unknown>): Promise<void> {
  try {
    await op();
  } catch (e) {
    setState({ cacheError: describeError(e).message });
  }
  await refreshStorage();
  void planModel(); // what is cached changed: the plan's "to download" too
}

export const deleteCached = (key: string): Promise<void> => change(() => engine().cacheDelete(key));
export const clearCache = (): Promise<void> => change(() => engine().cacheClear());
