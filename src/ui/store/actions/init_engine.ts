// Page start: check for WebGPU on the main thread (cheap, and what the person's browser really offers), start
// the engine worker, then select the model a ?model= link names (or plan the default one).
import { describeError, engine } from '../../engine.ts';
import { getState, setState } from '../index.ts';
import { parseHubQuery, parseModelQuery } from './model_source.ts';
import { selectModel } from './select_model.ts';

/** null when WebGPU looks usable, else 'missing' (no navigator.gpu) or 'no-adapter'. */
async function checkWebGpu(): Promise<'missing' | 'no-adapter' | null> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return 'missing';
  try {
    return (await gpu.requestAdapter()) ? null : 'no-adapter';
  } catch {
    return 'no-adapter';
  }
}

function unavailable(reason: string): void {
  setState({ gpu: 'unavailable', gpuReason: reason });
  getState().notify({
    level: 'error',
    topic: 'gpu',
    code: 'no-webgpu',
    title: 'WebGPU is not available',
    text:
      (reason === 'missing'
        ? 'This browser does not offer WebGPU (or has it switched off). '
        : reason === 'no-adapter'
          ? 'The browser has WebGPU but found no usable GPU adapter. '
          : `${reason} `) +
      'Retouch runs the model on your GPU through WebGPU, so editing is off here; you can still open photos and ' +
      'browse your history.',
  });
}

let started = false;

export async function initEngine(search = location.search): Promise<void> {
  if (started) return; // StrictMode runs effects twice
  started = true;
  // A link that names a model shows it selected at once; it is planned (and loaded) once the engine is up.
  const params = new URLSearchParams(search);
  const query = params.get('model');
  const fields = query !== null ? parseModelQuery(query) : null;
  // ?hub=https://mirror.example: the Hub base URL setting (a mirror, or a local server that answers like the Hub).
  const hubQuery = params.get('hub');
  if (hubQuery !== null) {
    const base = parseHubQuery(hubQuery);
    if (base) setState({ hubBaseUrl: base });
    else {
      getState().notify({
        level: 'warning',
        topic: 'model',
        code: 'bad-query',
        title: `The link's Hub address “${hubQuery}” is not understood`,
        text: 'Use ?hub=https://… (the address of the Hugging Face Hub or a mirror of it); the default Hub is used meanwhile.',
      });
    }
  }
  if (fields) setState(fields);
  else if (query !== null) {
    getState().notify({
      level: 'warning',
      topic: 'model',
      code: 'bad-query',
      title: `The link's model “${query}” is not understood`,
      text: 'Use ?model=owner/name (a Hugging Face repo), ?model=https://… (a model folder URL) or ?model=tiny-ip2p.',
    });
  }
  const pre = await checkWebGpu();
  if (pre) return unavailable(pre);
  try {
    const report = await engine().init();
    setState({ gpu: 'ready', adapter: report, gpuReason: null });
  } catch (e) {
    const d = describeError(e);
    if (d.code === 'no-webgpu') return unavailable(d.message);
    setState({ gpu: 'failed', gpuReason: d.message });
    getState().notify({
      level: 'error',
      topic: 'gpu',
      code: d.code,
      title: 'Could not start the GPU engine',
      text: 'The browser offers WebGPU, but the engine could not get a device. Reloading the page or updating the graphics driver may help.',
      detail: d.detail ?? d.message,
      actions: [{ label: 'Reload', run: () => location.reload() }],
    });
    return;
  }
  engine().onDeviceLost(() => {
    setState({ deviceLost: true });
    getState().notify({
      level: 'warning',
      topic: 'gpu',
      code: 'device-lost',
      title: 'The GPU device was lost',
      text: 'The graphics driver reset or reclaimed memory. Your images and history are kept; the next edit reconnects to the GPU.',
    });
  });
  // A link that names a model means: open it. Local sources load at once; remote ones wait for a click unless
  // they are already cached (the plan tells). Without a link, the default is planned and loads only if cached.
  await selectModel({}, { autoLoad: fields?.modelChoice === 'tiny' ? 'always' : 'if-cached' });
}
