// An edit: the current image (the last result, for chained edits) and the parameters go to the engine; progress
// and the latent preview arrive per step (transient state); the result becomes a new history entry. Every
// failure keeps the images and history and says what to do next.
import { describeError, engine, type EditOutput } from '../../engine.ts';
import { sentence } from '../../format.ts';
import { getState, setState } from '../index.ts';
import { currentEntry, newEntryId, type EditParams, type HistoryEntry } from '../history_slice.ts';
import { randomSeed } from '../params_slice.ts';

const SIZES = [256, 320, 384, 448, 512, 640, 768, 1024];

/** Why Edit cannot run now, in words for the button's description; null when it can. */
export function editBlocker(s = getState()): string | null {
  if (s.gpu === 'unavailable' || s.gpu === 'failed') return 'Editing needs WebGPU.';
  if (s.gpu === 'checking') return 'Starting the GPU engine…';
  if (s.modelState !== 'ready') return s.modelState === 'loading' ? 'The model is loading…' : 'Load a model first.';
  if (!currentEntry(s)) return 'Choose an image first.';
  if (!s.prompt.trim()) return 'Type an instruction first.';
  if (s.job) return 'Busy: Cancel stops the running job.';
  return null;
}

export async function runEdit(): Promise<void> {
  const s = getState();
  const blocked = editBlocker(s);
  if (blocked) {
    if (!s.job) s.notify({ level: 'warning', topic: 'edit', code: 'not-ready', title: 'Cannot edit yet', text: blocked });
    return;
  }
  const base = currentEntry(s)!;
  const seed = s.randomizeSeed ? randomSeed() : s.seed;
  const params: EditParams = {
    prompt: s.prompt.trim(),
    negativePrompt: s.negativePrompt.trim(),
    steps: s.steps,
    textGuidance: s.textGuidance,
    imageGuidance: s.imageGuidance,
    seed,
    scheduler: s.scheduler,
    maxSize: s.maxSize,
    model: s.modelInfo?.id ?? '',
  };
  const controller = new AbortController();
  const startedAt = performance.now();
  s.dismiss('edit');
  setState({ seed, job: { kind: 'edit', controller, startedAt, steps: params.steps }, progress: null, preview: null, lastRun: null });
  let out: EditOutput;
  try {
    out = await engine().edit(
      {
        // the client sends a copy: the history keeps its pixels
        image: base.image,
        prompt: params.prompt,
        negativePrompt: params.negativePrompt,
        steps: params.steps,
        textGuidance: params.textGuidance,
        imageGuidance: params.imageGuidance,
        seed: params.seed,
        scheduler: params.scheduler,
        maxSize: params.maxSize,
      },
      {
        onProgress: (p) => setState({ progress: p }),
        onPreview: (img) => setState({ preview: img }),
      },
      controller.signal,
    );
  } catch (e) {
    setState({ job: null, preview: null, lastRun: { steps: params.steps, ms: performance.now() - startedAt, ok: false } });
    editFailed(e, params);
    return;
  }
  const entry: HistoryEntry = {
    id: newEntryId(),
    kind: 'edit',
    image: { width: out.width, height: out.height, rgba: new Uint8ClampedArray(out.rgba) },
    title: params.prompt,
    parentId: base.id,
    params,
    png: out.png,
    ms: out.ms,
  };
  setState((st) => {
    const entries = [...st.entries.slice(0, st.index + 1), entry];
    return { entries, index: entries.length - 1, job: null, preview: null, lastRun: { steps: params.steps, ms: out.ms, ok: true } };
  });
  // rounding sides down to multiples of 8 is routine; say something only when the photo was really scaled down
  if (out.scaled && Math.max(out.inputWidth, out.inputHeight) > params.maxSize) {
    getState().notify({
      level: 'info',
      topic: 'edit',
      code: 'scaled',
      title: `Edited at ${out.width}×${out.height}`,
      text: `The image is ${out.inputWidth}×${out.inputHeight}; the model worked at Size ${params.maxSize} px. A larger Size keeps more detail but needs more GPU memory and time.`,
    });
  }
}

function editFailed(e: unknown, params: EditParams): void {
  const d = describeError(e);
  const { notify } = getState();
  const retry = { label: 'Retry', run: () => void runEdit() };
  const base = { level: 'error' as const, topic: 'edit', code: d.code, detail: d.detail ?? d.message };
  switch (d.code) {
    case 'cancelled':
      notify({ level: 'info', topic: 'edit', code: 'cancelled', title: 'Edit cancelled', text: 'Nothing was changed: your image and history are as they were.' });
      return;
    case 'out-of-memory': {
      const smaller = [...SIZES].reverse().find((x) => x < params.maxSize) ?? 256;
      notify({
        ...base,
        title: 'The GPU ran out of memory',
        text: `Editing at ${params.maxSize} px needs more GPU memory than is free. Try a smaller Size (${smaller} px), or close other tabs and apps that use the GPU.`,
        actions: [{ label: `Retry at ${smaller} px`, run: () => (getState().setParams({ maxSize: smaller }), void runEdit()) }],
      });
      return;
    }
    case 'device-lost':
      setState({ deviceLost: true });
      notify({
        ...base,
        title: 'The GPU device was lost during the edit',
        text: 'The graphics driver reset or reclaimed memory. Your images and history are kept. Retry reconnects to the GPU, reloads the model (from the browser cache) and runs the edit again.',
        actions: [retry],
      });
      return;
    case 'bad-image':
      notify({ ...base, title: 'The engine could not use this image', text: sentence(d.message) });
      return;
    case 'no-webgpu':
      setState({ gpu: 'unavailable', gpuReason: d.message });
      notify({ ...base, title: 'WebGPU stopped working', text: sentence(d.message) });
      return;
    default:
      notify({ ...base, title: 'The edit failed', text: sentence(d.message), actions: [retry] });
  }
}
