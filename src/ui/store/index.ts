// The editor's one zustand store, composed from slices. Components select what they render; per-step progress,
// previews and download bytes change often and are read through transient subscriptions (useStore.subscribe)
// that draw into canvases and progress bars without re-rendering React.
import { create } from 'zustand';
import { createEngineSlice, type EngineSlice } from './engine_slice.ts';
import { createModelSlice, type ModelSlice } from './model_slice.ts';
import { createParamsSlice, type ParamsSlice } from './params_slice.ts';
import { createHistorySlice, type HistorySlice } from './history_slice.ts';
import { createJobSlice, type JobSlice } from './job_slice.ts';
import { createNoticeSlice, type NoticeSlice } from './notice_slice.ts';
import { createStorageSlice, type StorageSlice } from './storage_slice.ts';
import { createUiSlice, type UiSlice } from './ui_slice.ts';

export type Store = EngineSlice & ModelSlice & ParamsSlice & HistorySlice & JobSlice & NoticeSlice & StorageSlice & UiSlice;

export const useStore = create<Store>()((...a) => ({
  ...createEngineSlice(...a),
  ...createModelSlice(...a),
  ...createParamsSlice(...a),
  ...createHistorySlice(...a),
  ...createJobSlice(...a),
  ...createNoticeSlice(...a),
  ...createStorageSlice(...a),
  ...createUiSlice(...a),
}));

export const getState = useStore.getState;
export const setState = useStore.setState;
