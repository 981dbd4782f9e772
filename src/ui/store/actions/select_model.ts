// Choosing a model: set the fields, ask the engine what it would download (size, what is cached, whether it fits
// this GPU), then load at once only when nothing needs downloading or when asked to.
import { describeError, engine } from '../../engine.ts';
import { sentence } from '../../format.ts';
import { getState, setState } from '../index.ts';
import type { ModelSlice } from '../model_slice.ts';
import { loadModel } from './load_model.ts';
import { resolveSource } from './model_source.ts';

type Fields = Partial<Pick<ModelSlice, 'modelChoice' | 'hubRepo' | 'hubRevision' | 'hubBaseUrl' | 'hubVariant' | 'modelUrl' | 'folderFiles'>>;

export interface SelectOptions {
  /** 'always': load after the plan; 'if-cached': only when every file is already in the browser's cache. */
  autoLoad?: 'always' | 'if-cached' | 'never';
}

export async function selectModel(fields: Fields, opts: SelectOptions = {}): Promise<void> {
  setState({ ...fields, plan: null, planKey: null, planState: 'idle', planError: null });
  await planModel(opts);
}

export async function planModel(opts: SelectOptions = {}): Promise<void> {
  const s = getState();
  const r = resolveSource(s);
  if (typeof r === 'string') {
    setState({ planState: 'idle', planError: r });
    return;
  }
  if (s.gpu !== 'ready') return;
  setState({ planState: 'pending', planError: null, planKey: r.key });
  let plan;
  try {
    plan = await engine().plan(r.src);
  } catch (e) {
    if (getState().planKey !== r.key) return;
    const d = describeError(e);
    setState({ planState: 'failed', planError: d.code === 'bad-model' ? null : sentence(d.message) });
    if (d.code === 'adapter-too-small') {
      getState().notify({
        level: 'error',
        topic: 'model',
        code: d.code,
        title: 'This GPU is too small for this model',
        text: `${sentence(d.message)}${d.detail ? ` ${sentence(d.detail)}` : ''} Try a device with more GPU memory, or the tiny test model to try the editor.`,
      });
      return;
    }
    if (d.code === 'bad-model') {
      // a folder or URL that is not a model: say so now, not after a click
      getState().notify({
        level: 'error',
        topic: 'model',
        code: 'bad-model',
        title: 'That is not an InstructPix2Pix model',
        text: `${sentence(d.message)} A model folder holds model_index.json, unet/, vae/, text_encoder/ and tokenizer/.`,
      });
      return;
    }
    if (opts.autoLoad === 'always') await loadModel();
    return;
  }
  if (getState().planKey !== r.key) return; // the person chose something else meanwhile
  setState({ plan, planState: 'ready' });
  if (!plan.fitsAdapter) {
    getState().notify({
      level: 'error',
      topic: 'model',
      code: 'adapter-too-small',
      title: 'This GPU is too small for this model',
      text: `${plan.needs ?? 'The model needs larger GPU buffers than this adapter offers.'} Try a device with more GPU memory, or the tiny test model to try the editor.`,
    });
    return;
  }
  const cached = plan.totalBytes > 0 && plan.cachedBytes >= plan.totalBytes;
  const loaded = getState().loadedKey === r.key && getState().modelState === 'ready';
  if (!loaded && (opts.autoLoad === 'always' || (opts.autoLoad === 'if-cached' && (cached || !r.remote)))) await loadModel();
}
