// What the engine has cached in the browser (models and their sizes) and how much room the browser grants.
import type { StateCreator } from 'zustand';
import type { CacheEntry } from '../engine.ts';
import type { Store } from './index.ts';

export interface StorageSlice {
  cache: CacheEntry[] | null;
  cacheState: 'idle' | 'pending' | 'ready' | 'failed';
  cacheError: string | null;
  /** navigator.storage.estimate(): bytes used and granted for this site. */
  estimate: { usage: number; quota: number } | null;
}

export const createStorageSlice: StateCreator<Store, [], [], StorageSlice> = () => ({
  cache: null,
  cacheState: 'idle',
  cacheError: null,
  estimate: null,
});
