// Which model the person chose (and the fields for each kind of source), what it would cost to download (the
// plan), and the model the engine has loaded. Download progress is transient (see store/index.ts).
import type { StateCreator } from 'zustand';
import type { LoadProgress, ModelInfo, ModelPlan } from '../engine.ts';
import type { Store } from './index.ts';

export type ModelChoice = 'default' | 'tiny' | 'hub' | 'folder' | 'url';

export const DEFAULT_REPO = 'timbrooks/instruct-pix2pix';
export const DEFAULT_REVISION = 'main';
export const DEFAULT_HUB = 'https://huggingface.co';
/** Said before any download, until the plan gives the exact number. */
export const DEFAULT_SIZE_TEXT = '~2.1 GB';

export interface ModelSlice {
  modelChoice: ModelChoice;
  hubRepo: string;
  hubRevision: string;
  hubBaseUrl: string;
  hubVariant: 'fp16' | 'fp32';
  modelUrl: string;
  folderFiles: File[] | null;
  plan: ModelPlan | null;
  /** The source key the plan belongs to (a plan for another choice is stale). */
  planKey: string | null;
  planState: 'idle' | 'pending' | 'ready' | 'failed';
  planError: string | null;
  modelState: 'none' | 'loading' | 'ready' | 'failed';
  modelInfo: ModelInfo | null;
  /** Source key of the loaded model. */
  loadedKey: string | null;
  /** Transient: every download/read/compile progress event. */
  loadProgress: LoadProgress | null;
}

export const createModelSlice: StateCreator<Store, [], [], ModelSlice> = () => ({
  modelChoice: 'default',
  hubRepo: DEFAULT_REPO,
  hubRevision: DEFAULT_REVISION,
  hubBaseUrl: DEFAULT_HUB,
  hubVariant: 'fp16',
  modelUrl: '',
  folderFiles: null,
  plan: null,
  planKey: null,
  planState: 'idle',
  planError: null,
  modelState: 'none',
  modelInfo: null,
  loadedKey: null,
  loadProgress: null,
});
