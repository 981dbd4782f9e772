// The engine as the app runs it: EngineClient on a Chromium page, the real module worker, WebGPU (SwiftShader) in
// that worker, the bundled tiny model served by Vite at /models/tiny-ip2p. A 64x64 edit is checked for size, PNG
// metadata, cancel and determinism, and against the same edit computed here by EngineService in Node (Dawn on lavapipe).
import { PNG } from 'pngjs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../../src/engine/gpu/node.ts';
import { readPngText } from '../../src/engine/image/png.ts';
import { nodeFolderSource } from '../../src/engine/weights/diffusers.ts';
import { EngineService } from '../../src/worker/engine_service.ts';
import type { AdapterReport, LoadProgress, ModelInfo, ModelPlan } from '../../src/worker/protocol.ts';
import { testGpu } from '../helpers/gpu.ts';
import { startBrowserHarness, type BrowserHarness } from './harness.ts';
import type { EditArgs } from './suites/engine_client.ts';

const MODEL = fileURLToPath(new URL('../../models/tiny-ip2p/', import.meta.url));
const W = 64;
const H = 64;

interface EditOk {
  ok: true;
  width: number;
  height: number;
  scaled: boolean;
  ms: number;
  rgba: number[];
  png: number[];
  progress: string[];
  /** stage+step@elapsed ms, for the log */
  timing: string[];
  previews: { width: number; height: number; step: number; bytes: number }[];
  inputKept: boolean;
}
interface EditFailed {
  ok: false;
  error: { isEngineError: boolean; code?: string; message: string };
  progress: string[];
}

/** A test card: colour ramps, a bright square, alpha that the engine must drop. */
function card(): number[] {
  const px: number[] = [];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const sq = x > 16 && x < 40 && y > 20 && y < 44;
      px.push((x * 4) % 256, (y * 4) % 256, sq ? 240 : 30, (x + y) % 256);
    }
  }
  return px;
}

// Text guidance 1 turns classifier-free guidance off (as diffusers does): the UNet runs at batch 1, a third of the
// work, which SwiftShader needs (a guided 64x64 step takes ~8 s there). The guided batch of 3 still runs in this
// worker: the load's warm-up is a guided edit. Node tests check guided edits.
const EDIT: EditArgs = { width: W, height: H, rgba: card(), prompt: 'turn it into a watercolor', steps: 2, seed: 1234, textGuidance: 1 };

describe('EngineClient and the engine worker in Chromium', () => {
  let h: BrowserHarness;
  beforeAll(async () => {
    h = await startBrowserHarness();
  });
  afterAll(async () => {
    await h?.run('engine_client', { op: 'dispose' }).catch(() => {});
    await h?.close();
  });
  const run = <T>(args: Record<string, unknown>) => h.run<T>('engine_client', args);

  it('Vite serves the bundled model with byte ranges, and not its goldens', async () => {
    const base = `${h.baseUrl}/models/tiny-ip2p`;
    const index = await fetch(`${base}/model_index.json`);
    expect(index.status).toBe(200);
    expect(((await index.json()) as { _class_name: string })._class_name).toBe('StableDiffusionInstructPix2PixPipeline');
    const range = await fetch(`${base}/unet/diffusion_pytorch_model.safetensors`, { headers: { Range: 'bytes=0-7' } });
    expect(range.status).toBe(206);
    expect((await range.arrayBuffer()).byteLength).toBe(8);
    expect(range.headers.get('content-range')).toMatch(/^bytes 0-7\/\d+$/);
    for (const missing of ['golden/cases.json', 'golden/unet.safetensors', 'unet/diffusion_pytorch_model.bin']) {
      expect((await fetch(`${base}/${missing}`)).status, missing).toBe(404);
      expect((await fetch(`${base}/${missing}`, { method: 'HEAD' })).status, missing).toBe(404);
    }
  });

  it('init reports the worker adapter (SwiftShader here), the same as the page sees', async () => {
    const a = await run<AdapterReport>({ op: 'init' });
    expect(a.description).toBe(h.adapter.description);
    expect(a.description).toMatch(/swiftshader/i);
    expect(a.features.shaderF16).toBe(h.adapter.features.shaderF16);
    expect(a.limits.maxStorageBufferBindingSize).toBe(h.adapter.limits.maxStorageBufferBindingSize);
  });

  it('plans and loads the bundled tiny model over HTTP with download, compile and ready stages', async () => {
    const plan = await run<ModelPlan>({ op: 'plan' });
    expect(plan).toMatchObject({ fitsAdapter: true, variant: 'fp32', dtype: 'f32' });
    expect(plan.files.some((f) => f.path.startsWith('golden/'))).toBe(false);
    const { model, progress, ms } = await run<{ model: ModelInfo; progress: LoadProgress[]; ms: number }>({ op: 'load' });
    expect(model).toMatchObject({ id: 'bundled:tiny-ip2p', randomWeights: true, dtype: 'f32', sizeBytes: plan.gpuBytes });
    const stages = progress.map((p) => p.stage).filter((s, i, a) => s !== a[i - 1]);
    expect(stages).toEqual(['download', 'compile', 'ready']);
    const weights = plan.files.filter((f) => f.path.endsWith('.safetensors')).reduce((a, f) => a + f.bytes, 0);
    expect(progress.filter((p) => p.stage === 'download').at(-1)).toMatchObject({ loadedBytes: weights, totalBytes: weights });
    console.log(`[worker] load of tiny-ip2p in Chromium: ${(ms / 1000).toFixed(1)} s (download + compile)`);
    expect(await run<number>({ op: 'tokenCount', text: 'a photo of a cat' })).toBe(5);
  });

  let first: EditOk;
  it('edits a 64x64 image in 2 steps: progress, previews, result size and PNG metadata', async () => {
    const r = await run<EditOk | EditFailed>({ op: 'edit', ...EDIT });
    if (!r.ok) throw new Error(`edit failed: ${JSON.stringify(r.error)}`);
    first = r;
    expect(r).toMatchObject({ width: W, height: H, scaled: false, inputKept: true });
    expect(r.progress).toEqual(['encode:0/2', 'denoise:1/2', 'denoise:2/2', 'decode:2/2']);
    expect(r.previews.map((p) => p.step)).toEqual([0, 1]);
    for (const p of r.previews) expect(p.bytes).toBe(p.width * p.height * 4);
    expect(r.rgba.length).toBe(W * H * 4);
    const png = PNG.sync.read(Buffer.from(r.png));
    expect([png.width, png.height]).toEqual([W, H]);
    expect(Array.from(png.data)).toEqual(r.rgba);
    expect(readPngText(Uint8Array.from(r.png))).toMatchObject({
      prompt: EDIT.prompt,
      seed: '1234',
      steps: '2',
      text_guidance: '1',
      image_guidance: '1.5',
      scheduler: 'euler-ancestral',
      model: 'bundled:tiny-ip2p',
      Software: 'Retouch',
    });
    console.log(`[worker] 64x64, 2 steps in Chromium (SwiftShader): ${r.ms.toFixed(0)} ms (${r.timing.join(' ')})`);
  });

  // After a cancel and a refused image, the same seed again: the worker is free again and deterministic.
  it('cancels through an AbortSignal, rejects a bad image, then gives identical pixels for the same seed', async () => {
    const cancelled = await run<EditOk | EditFailed>({ op: 'edit', ...EDIT, steps: 20, abort: true });
    expect(cancelled.ok).toBe(false);
    if (!cancelled.ok) {
      expect(cancelled.error).toMatchObject({ isEngineError: true, code: 'cancelled' });
      // aborted at 'encode': the cancel message reaches the worker during the encoders or step 1 at the latest
      expect(cancelled.progress.length).toBeLessThanOrEqual(2);
    }
    const bad = await run<EditOk | EditFailed>({ op: 'edit', ...EDIT, width: 65 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error).toMatchObject({ isEngineError: true, code: 'bad-image' });
    const again = await run<EditOk | EditFailed>({ op: 'edit', ...EDIT });
    if (!again.ok) throw new Error(`edit failed: ${JSON.stringify(again.error)}`);
    expect(again.rgba).toEqual(first.rgba);
    expect(again.png).toEqual(first.png);
  });

  it('matches the same edit computed in Node by EngineService (lavapipe) within one level', async () => {
    await testGpu();
    const svc = new EngineService({ acquire: () => acquireNodeDevice(), activations: 'f32', sources: { bundled: () => nodeFolderSource(MODEL) } });
    try {
      await svc.load({ kind: 'bundled', name: 'tiny-ip2p' });
      const node = await svc.edit(
        {
          image: { width: W, height: H, rgba: Uint8ClampedArray.from(EDIT.rgba) },
          prompt: EDIT.prompt,
          negativePrompt: '',
          steps: EDIT.steps,
          textGuidance: EDIT.textGuidance,
          imageGuidance: 1.5,
          seed: EDIT.seed,
          scheduler: 'euler-ancestral',
          maxSize: 512,
        },
        {},
      );
      expect([node.width, node.height]).toEqual([W, H]);
      let maxDiff = 0;
      let differing = 0;
      for (let i = 0; i < node.rgba.length; i++) {
        const d = Math.abs(node.rgba[i] - first.rgba[i]);
        maxDiff = Math.max(maxDiff, d);
        if (d) differing++;
      }
      console.log(
        `[worker] Chromium/SwiftShader vs Node/lavapipe, same 64x64 edit: max difference ${maxDiff} level(s), ` +
          `${differing} of ${node.rgba.length} bytes differ`,
      );
      expect(maxDiff).toBeLessThanOrEqual(1);
    } finally {
      svc.dispose();
    }
  });

});
