// The chain of images: inputs the person opened and the edits made from them. `index` is what the canvas shows
// and what the next edit starts from; undo/redo move it, a new image or edit drops what was ahead of it.
import type { StateCreator } from 'zustand';
import type { RgbaImage } from '../image_io.ts';
import type { Scheduler } from '../engine.ts';
import type { Store } from './index.ts';

export interface EditParams {
  prompt: string;
  negativePrompt: string;
  steps: number;
  textGuidance: number;
  imageGuidance: number;
  seed: number;
  scheduler: Scheduler;
  maxSize: number;
  model: string;
}

export interface HistoryEntry {
  id: number;
  kind: 'input' | 'edit';
  image: RgbaImage;
  /** File name for inputs, the instruction for edits. */
  title: string;
  /** For edits: the entry it was made from (the "before" of the compare slider). */
  parentId: number | null;
  params?: EditParams;
  /** The engine's PNG, parameters in its text chunks. */
  png?: Uint8Array;
  ms?: number;
}

export interface HistorySlice {
  entries: HistoryEntry[];
  index: number;
}

export const createHistorySlice: StateCreator<Store, [], [], HistorySlice> = () => ({
  entries: [],
  index: -1,
});

export const currentEntry = (s: Pick<HistorySlice, 'entries' | 'index'>): HistoryEntry | null => s.entries[s.index] ?? null;

export const parentEntry = (s: Pick<HistorySlice, 'entries'>, e: HistoryEntry | null): HistoryEntry | null =>
  e && e.parentId !== null ? (s.entries.find((x) => x.id === e.parentId) ?? null) : null;

let nextId = 1;
export const newEntryId = (): number => nextId++;
