// Whether the page has a GPU engine: checking, ready (with the worker's adapter report), or unavailable and why.
import type { StateCreator } from 'zustand';
import type { AdapterReport } from '../engine.ts';
import type { Store } from './index.ts';

export type GpuStatus = 'checking' | 'ready' | 'unavailable' | 'failed';

export interface EngineSlice {
  gpu: GpuStatus;
  /** 'missing': no navigator.gpu; 'no-adapter': requestAdapter() gave nothing; otherwise the engine's words. */
  gpuReason: string | null;
  adapter: AdapterReport | null;
  /** The worker reported a lost device; the client re-creates it on the next call. */
  deviceLost: boolean;
}

export const createEngineSlice: StateCreator<Store, [], [], EngineSlice> = () => ({
  gpu: 'checking',
  gpuReason: null,
  adapter: null,
  deviceLost: false,
});
