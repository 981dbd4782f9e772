// The one job running at a time (a model load or an edit) and its cancel handle. `progress` and `preview` change
// every step and are read transiently by the progress bar and the canvas.
import type { StateCreator } from 'zustand';
import type { EditProgress, PreviewImage } from '../engine.ts';
import type { Store } from './index.ts';

export interface Job {
  kind: 'load' | 'edit';
  controller: AbortController;
  startedAt: number;
  /** For edits: the step count asked for (the bar's maximum before the first event). */
  steps?: number;
}

export interface JobSlice {
  job: Job | null;
  /** Transient. */
  progress: EditProgress | null;
  /** Transient: the latest latent preview of the running edit. */
  preview: PreviewImage | null;
  /** The last finished edit, for the progress line after the run. */
  lastRun: { steps: number; ms: number; ok: boolean } | null;
}

export const createJobSlice: StateCreator<Store, [], [], JobSlice> = () => ({
  job: null,
  progress: null,
  preview: null,
  lastRun: null,
});
