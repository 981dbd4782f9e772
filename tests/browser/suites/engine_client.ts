// Suite: the app's EngineClient on the page, driving the real engine module worker (src/worker/engine.worker.ts).
// One client lives across calls (load once, edit many); each call does one action and returns plain JSON.
import { EngineClient, EngineError, type EditJob, type LoadProgress } from '../../../src/worker/client.ts';

let client: EngineClient | null = null;

export interface EditArgs {
  width: number;
  height: number;
  /** RGBA bytes. */
  rgba: number[];
  prompt: string;
  steps: number;
  seed: number;
  textGuidance: number;
  /** Abort at the first progress event (the worker then stops before its next step). */
  abort?: boolean;
}

function errorJson(e: unknown) {
  return e instanceof EngineError
    ? { isEngineError: true, code: e.code, message: e.message, detail: e.detail }
    : { isEngineError: false, message: String(e) };
}

async function edit(a: EditArgs) {
  const c = client!;
  const image = { width: a.width, height: a.height, rgba: new Uint8ClampedArray(a.rgba) };
  const job: EditJob = {
    image,
    prompt: a.prompt,
    negativePrompt: '',
    steps: a.steps,
    textGuidance: a.textGuidance,
    imageGuidance: 1.5,
    seed: a.seed,
    scheduler: 'euler-ancestral',
    maxSize: 512,
  };
  const progress: string[] = [];
  const timing: string[] = [];
  const previews: { width: number; height: number; step: number; bytes: number }[] = [];
  const ac = new AbortController();
  try {
    const out = await c.edit(
      job,
      {
        onProgress: (p) => {
          progress.push(`${p.stage}:${p.step}/${p.steps}`);
          timing.push(`${p.stage}${p.step}@${p.elapsedMs.toFixed(0)}`);
          if (a.abort) ac.abort();
        },
        onPreview: (img, step) => previews.push({ width: img.width, height: img.height, step, bytes: img.data.length }),
      },
      ac.signal,
    );
    return {
      ok: true as const,
      width: out.width,
      height: out.height,
      scaled: out.scaled,
      ms: out.ms,
      rgba: Array.from(out.rgba),
      png: Array.from(out.png),
      progress,
      timing,
      previews,
      // the page's own image is untouched (a copy went to the worker)
      inputKept: image.rgba.length === a.rgba.length && image.rgba[0] === a.rgba[0],
    };
  } catch (e) {
    return { ok: false as const, error: errorJson(e), progress, previews };
  }
}

export default async function engineClient(args: unknown) {
  const a = args as { op: string } & Record<string, unknown>;
  switch (a.op) {
    case 'init': {
      client ??= new EngineClient();
      return await client.init();
    }
    case 'load': {
      const progress: LoadProgress[] = [];
      const t0 = performance.now();
      const model = await client!.load({ kind: 'bundled', name: 'tiny-ip2p' }, (p) => progress.push(p));
      return { model, progress, ms: performance.now() - t0 };
    }
    case 'plan':
      return await client!.plan({ kind: 'bundled', name: 'tiny-ip2p' });
    case 'tokenCount':
      return await client!.tokenCount(a.text as string);
    case 'edit':
      return await edit(a as unknown as EditArgs);
    case 'dispose':
      client?.dispose();
      client = null;
      return null;
    default:
      throw new Error(`engine_client: unknown op ${a.op}`);
  }
}
