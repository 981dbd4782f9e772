// The edit's parameters as the controls show them; defaults are InstructPix2Pix's (text 7.5, image 1.5, 20 steps).
import type { StateCreator } from 'zustand';
import type { Scheduler } from '../engine.ts';
import type { Store } from './index.ts';

export const MAX_TOKENS = 75;
export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 31);

export interface ParamsSlice {
  prompt: string;
  negativePrompt: string;
  textGuidance: number;
  imageGuidance: number;
  steps: number;
  seed: number;
  randomizeSeed: boolean;
  /** Longest side the model works at (multiples of 8 below it); smaller is faster and needs less memory. */
  maxSize: number;
  scheduler: Scheduler;
  /** Content tokens of the prompt (null until a model's tokenizer can count them). */
  tokens: number | null;
  setParams(p: Partial<Pick<ParamsSlice, 'prompt' | 'negativePrompt' | 'textGuidance' | 'imageGuidance' | 'steps' | 'seed' | 'randomizeSeed' | 'maxSize' | 'scheduler'>>): void;
}

export const createParamsSlice: StateCreator<Store, [], [], ParamsSlice> = (set) => ({
  prompt: '',
  negativePrompt: '',
  textGuidance: 7.5,
  imageGuidance: 1.5,
  steps: 20,
  seed: randomSeed(),
  randomizeSeed: true,
  maxSize: 512,
  scheduler: 'euler-ancestral',
  tokens: null,
  setParams: (p) => set(p),
});
