// Loading the selected model: download (resumable, cached) or read, then compile, with progress; every failure
// becomes a notice that says what to do, with Retry where retrying helps (a retried download resumes).
import { formatBytes, sentence } from '../../format.ts';
import { describeError, engine } from '../../engine.ts';
import { getState, setState } from '../index.ts';
import { resolveSource } from './model_source.ts';
import { countTokens } from './count_tokens.ts';
import { refreshStorage } from './storage.ts';

export async function loadModel(): Promise<void> {
  const s = getState();
  if (s.job) return;
  const r = resolveSource(s);
  if (typeof r === 'string') {
    s.notify({ level: 'error', topic: 'model', code: 'bad-model', title: 'Choose a model first', text: r });
    return;
  }
  if (s.gpu !== 'ready') {
    s.notify({ level: 'error', topic: 'model', code: 'no-webgpu', title: 'No GPU engine', text: 'A model can only be loaded where WebGPU works.' });
    return;
  }
  const controller = new AbortController();
  s.dismiss('model');
  setState({
    job: { kind: 'load', controller, startedAt: performance.now() },
    modelState: 'loading',
    modelInfo: null,
    loadedKey: null,
    loadProgress: null,
    deviceLost: false,
  });
  try {
    const info = await engine().load(
      r.src,
      (p) => {
        setState({ loadProgress: p });
        // The one download-stage message: a cached file failed its check and is fetched again.
        if (p.stage === 'download' && p.message) {
          getState().notify({ level: 'info', topic: 'model-cache', code: 'refetched', title: 'A damaged cached file is downloaded again', text: sentence(p.message) });
        }
      },
      controller.signal,
    );
    setState({ modelState: 'ready', modelInfo: info, loadedKey: r.key, job: null });
    void countTokens();
  } catch (e) {
    setState({ modelState: 'failed', job: null });
    modelFailed(e);
  } finally {
    void refreshStorage();
  }
}

function modelFailed(e: unknown): void {
  const d = describeError(e);
  const { notify, plan } = getState();
  const retry = { label: 'Retry', run: () => void loadModel() };
  const base = { level: 'error' as const, topic: 'model', code: d.code, detail: d.detail ?? d.message };
  switch (d.code) {
    case 'cancelled':
      notify({
        level: 'info',
        topic: 'model',
        code: 'cancelled',
        title: 'Model loading stopped',
        text: 'Files that finished are kept in the browser; loading again resumes where it stopped.',
        actions: [{ label: 'Resume', run: () => void loadModel() }],
      });
      return;
    case 'download':
      notify({ ...base, title: 'The download failed', text: `${sentence(d.message)} Retry resumes from where it stopped.`, actions: [retry] });
      return;
    case 'quota': {
      const missing = plan ? plan.totalBytes - plan.cachedBytes : 0;
      const est = getState().estimate;
      const free = est ? Math.max(0, est.quota - est.usage) : null;
      // without a plan, the engine's own words say how much is needed
      const need = missing > 0 ? `The model needs ${formatBytes(missing)} more` : sentence(d.message).replace(/\.$/, '');
      notify({
        ...base,
        title: 'Not enough storage space for the model',
        text: `${need}${free !== null ? `, and this browser grants this site about ${formatBytes(free)} free` : ''}. Free space in Storage (other cached models), or in your browser's site settings.`,
        actions: [{ label: 'Open Storage', run: () => getState().setDialog('storage') }, retry],
      });
      return;
    }
    case 'bad-model':
      notify({ ...base, title: 'That is not an InstructPix2Pix model', text: `${sentence(d.message)} A model folder holds model_index.json, unet/, vae/, text_encoder/ and tokenizer/.` });
      return;
    case 'adapter-too-small':
      notify({ ...base, title: 'This GPU is too small for this model', text: `${sentence(d.message)} ${d.detail ? sentence(d.detail) : ''} Try the tiny test model, or a device with more GPU memory.` });
      return;
    case 'device-lost':
      notify({ ...base, title: 'The GPU device was lost while loading', text: 'The graphics driver reset. Retry reconnects and loads again (finished downloads are cached).', actions: [retry] });
      return;
    case 'out-of-memory':
      notify({ ...base, title: 'The GPU ran out of memory loading the model', text: 'Close other tabs or apps that use the GPU and retry, or use the fp16 variant.', actions: [retry] });
      return;
    default:
      notify({ ...base, title: 'The model could not be loaded', text: sentence(d.message), actions: [retry] });
  }
}
