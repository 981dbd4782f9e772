// Messages as a person meets them: errors with what to do next (and a button that does it), warnings, notes.
import type { StateCreator } from 'zustand';
import type { Store } from './index.ts';

export interface NoticeAction {
  label: string;
  run(): void;
}

export interface Notice {
  id: number;
  level: 'error' | 'warning' | 'info';
  /** Groups notices so a newer one of the same topic replaces the older (e.g. 'image', 'edit', 'model'). */
  topic: string;
  /** The engine's error code or a page-side reason, for tests and styling. */
  code?: string;
  title: string;
  text?: string;
  detail?: string;
  actions?: NoticeAction[];
}

export interface NoticeSlice {
  notices: Notice[];
  notify(n: Omit<Notice, 'id'>): void;
  dismiss(topicOrId: string | number): void;
}

let nextId = 1;

export const createNoticeSlice: StateCreator<Store, [], [], NoticeSlice> = (set) => ({
  notices: [],
  notify: (n) => set((s) => ({ notices: [...s.notices.filter((x) => x.topic !== n.topic), { ...n, id: nextId++ }] })),
  dismiss: (key) => set((s) => ({ notices: s.notices.filter((x) => (typeof key === 'number' ? x.id !== key : x.topic !== key)) })),
});
