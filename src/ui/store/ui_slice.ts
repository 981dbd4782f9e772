// Which dialog is open (Storage, About this GPU): page chrome that actions may open, e.g. after a quota error.
import type { StateCreator } from 'zustand';
import type { Store } from './index.ts';

export interface UiSlice {
  dialog: 'storage' | 'about' | null;
  setDialog(d: UiSlice['dialog']): void;
}

export const createUiSlice: StateCreator<Store, [], [], UiSlice> = (set) => ({
  dialog: null,
  setDialog: (dialog) => set({ dialog }),
});
