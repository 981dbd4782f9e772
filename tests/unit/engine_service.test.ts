// The engine worker's logic (EngineService, and EngineHost's message routing) in Node on a real WebGPU device, with
// the bundled tiny model read from disk: plan and load with progress and a compile stage, edits with progress and
// previews compared pixel for pixel with the pipeline driven directly, cancel, busy, bad input, a non-model
// folder, a lost device, and the plan of a URL model that reads weight headers only.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { acquireNodeDevice } from '../../src/engine/gpu/node.ts';
import { readPngText } from '../../src/engine/image/png.ts';
import { WebGpuBackend } from '../../src/engine/ops/webgpu/backend.ts';
import { buildPipeline } from '../../src/engine/pipelines/load.ts';
import { loadPipelineFolder, nodeFolderSource, type PickedFile } from '../../src/engine/weights/diffusers.ts';
import { EngineService } from '../../src/worker/engine_service.ts';
import { EngineClient } from '../../src/worker/client.ts';
import { EngineHost } from '../../src/worker/host.ts';
import { EngineError, type EditJob, type EngineReply, type LoadProgress } from '../../src/worker/protocol.ts';
import { MemoryCache } from '../../src/engine/weights/cache.ts';
import { startFakeHub, type FakeHub } from '../helpers/fake_hub.ts';
import { serveFolder } from '../helpers/http_server.ts';
import { testGpu } from '../helpers/gpu.ts';

const MODEL = fileURLToPath(new URL('../../models/tiny-ip2p/', import.meta.url));
const BUNDLED = { kind: 'bundled', name: 'tiny-ip2p' } as const;
const WEIGHTS32 = ['unet/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors'];
const WEIGHTS16 = WEIGHTS32.map((p) => p.replace('.safetensors', '.fp16.safetensors'));

/** Every float tensor of a safetensors file as (name, bytes), read from its JSON header here (not by our reader). */
function headerTensors(path: string): { name: string; elems: number; bytes: number }[] {
  const buf = readFileSync(MODEL + path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  return Object.entries(header)
    .filter(([k, t]) => k !== '__metadata__' && ['F32', 'F16', 'BF16'].includes(t.dtype))
    .map(([name, t]) => ({ name, elems: t.shape.reduce((a, b) => a * b, 1), bytes: t.data_offsets[1] - t.data_offsets[0] }));
}

const services: EngineService[] = [];
afterAll(() => services.forEach((s) => s.dispose()));

function service(opts: { weightBudget?: number; cache?: MemoryCache; activations?: 'auto' | 'f32' } = {}): EngineService {
  return remember(new EngineService({
    activations: opts.activations ?? 'f32',
    // testGpu first: it logs the adapter and fails with instructions when there is none; then a fresh device
    // per acquire, since the service destroys its device on a model change.
    acquire: async () => {
      await testGpu();
      return acquireNodeDevice();
    },
    sources: { bundled: () => nodeFolderSource(MODEL), cache: opts.cache },
    weightBudget: opts.weightBudget,
  }));
}

function remember(s: EngineService): EngineService {
  services.push(s);
  return s;
}

/** Edits here are S x S (the browser test does 64x64): lavapipe on two cores decodes 64x64 in seconds. */
const S = 32;

/** An RGBA test card: gradients, a disc, and alpha that must be ignored. */
function testImage(w = S, h = S, alpha = (i: number) => (i * 37) % 256): Uint8ClampedArray {
  const px = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const inDisc = (x - w / 2) ** 2 + (y - h / 2) ** 2 < (w / 4) ** 2;
      px.set([(x * 255) / (w - 1), (y * 255) / (h - 1), inDisc ? 230 : 40, alpha(i)], i * 4);
    }
  }
  return px;
}

function job(over: Partial<EditJob> = {}): EditJob {
  return {
    image: { width: S, height: S, rgba: testImage() },
    prompt: 'make it snowy',
    negativePrompt: '',
    steps: 2,
    textGuidance: 7.5,
    imageGuidance: 1.5,
    seed: 42,
    scheduler: 'euler-ancestral',
    maxSize: 512,
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<EngineError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error('expected a rejection');
}

describe('EngineService (Node, real WebGPU, bundled tiny model)', () => {
  const svc = service();
  const progress: LoadProgress[] = [];
  beforeAll(async () => {
    await svc.init();
    await svc.load(BUNDLED, (p) => progress.push(p));
  });
  afterAll(() => svc.dispose());

  it('init reports the adapter with its limits', async () => {
    const a = await svc.init();
    const ctx = await testGpu();
    expect(a.description).toContain(ctx.adapterInfo.vendor || ctx.adapterInfo.description);
    expect(a.limits.maxStorageBufferBindingSize).toBe(ctx.limits.maxStorageBufferBindingSize);
    expect(a.features.shaderF16).toBe(ctx.features.shaderF16);
  });

  it('load reports reading every fp32 weight byte, then compile, then ready', () => {
    const sizes = WEIGHTS32.map((p) => statSync(MODEL + p).size);
    const total = sizes.reduce((a, b) => a + b, 0);
    const reads = progress.filter((p) => p.stage === 'read');
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(reads.every((p) => p.totalBytes === total)).toBe(true);
    for (let i = 1; i < reads.length; i++) expect(reads[i].loadedBytes).toBeGreaterThanOrEqual(reads[i - 1].loadedBytes);
    expect(reads.at(-1)!.loadedBytes).toBe(total);
    // per-file numbers: the last event of each file has read it whole
    for (const [i, path] of WEIGHTS32.entries()) {
      const last = reads.filter((p) => p.file === path).at(-1)!;
      expect(last, path).toBeDefined();
      expect(last.fileLoaded).toBe(sizes[i]);
      expect(last.fileTotal).toBe(sizes[i]);
    }
    const stages = progress.map((p) => p.stage).filter((s, i, a) => s !== a[i - 1]);
    expect(stages).toEqual(['read', 'compile', 'ready']);
    expect(progress.filter((p) => p.stage === 'compile').map((p) => p.message).join(' ')).toMatch(/compil/);
  });

  it('plan lists the files with their sizes and the largest tensor, before loading anything', async () => {
    const plan = await service().plan(BUNDLED);
    const paths = plan.files.map((f) => f.path);
    for (const p of ['model_index.json', 'unet/config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt', ...WEIGHTS32]) expect(paths).toContain(p);
    for (const f of plan.files) expect(f.bytes, f.path).toBe(statSync(MODEL + f.path).size);
    expect(plan.totalBytes).toBe(plan.files.reduce((a, f) => a + f.bytes, 0));
    expect(plan).toMatchObject({ fitsAdapter: true, variant: 'fp32', dtype: 'f32' });
    const all = WEIGHTS32.flatMap((p, i) => headerTensors(p).map((t) => ({ ...t, name: `${['unet', 'vae', 'text_encoder'][i]}/${t.name}` })));
    const largest = all.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    expect(plan.largestTensor).toEqual({ name: largest.name, bytes: largest.bytes });
    expect(plan.gpuBytes).toBe(all.reduce((a, t) => a + t.bytes, 0));
  });

  it('plan falls back to fp16 weights, then says what is needed, as the memory budget shrinks', async () => {
    const f16 = WEIGHTS16.flatMap((p) => headerTensors(p)).reduce((a, t) => a + t.bytes, 0);
    const f32 = WEIGHTS32.flatMap((p) => headerTensors(p)).reduce((a, t) => a + t.bytes, 0);
    expect(f16 * 2).toBe(f32);
    const mid = await service({ weightBudget: f16 + 1 }).plan(BUNDLED);
    expect(mid).toMatchObject({ fitsAdapter: true, variant: 'fp16', dtype: 'f16', gpuBytes: f16 });
    const small = await service({ weightBudget: 1000 }).plan(BUNDLED);
    expect(small.fitsAdapter).toBe(false);
    expect(small.needs).toMatch(/GPU memory for weights \(the budget is 1\.00 kB\)/);
    const err = await rejection(service({ weightBudget: 1000 }).load(BUNDLED));
    expect(err.code).toBe('adapter-too-small');
    expect(err.detail).toBe(small.needs);
  });

  it('edits 32x32 in 2 steps with progress and previews, exactly as the pipeline run directly', async () => {
    const events: { stage: string; step: number; steps: number; elapsedMs: number }[] = [];
    const previews: { width: number; height: number; alpha: boolean; step: number }[] = [];
    const out = await svc.edit(job(), {
      onProgress: (p) => events.push(p),
      onPreview: (img, step) => previews.push({ width: img.width, height: img.height, alpha: img.data.every((v, i) => i % 4 !== 3 || v === 255), step }),
    });
    expect(events.map((e) => `${e.stage}:${e.step}/${e.steps}`)).toEqual(['encode:0/2', 'denoise:1/2', 'denoise:2/2', 'decode:2/2']);
    for (let i = 1; i < events.length; i++) expect(events[i].elapsedMs).toBeGreaterThanOrEqual(events[i - 1].elapsedMs);
    const vae = JSON.parse(readFileSync(MODEL + 'vae/config.json', 'utf8')) as { block_out_channels: number[] };
    const latent = S / 2 ** (vae.block_out_channels.length - 1);
    expect(previews).toEqual([0, 1].map((step) => ({ width: latent, height: latent, alpha: true, step })));
    expect(out).toMatchObject({ width: S, height: S, scaled: false, inputWidth: S, inputHeight: S });
    expect(out.ms).toBeGreaterThan(0);

    // The same edit through the pipeline itself (fp32 files, own device), alpha dropped by hand here.
    const be = new WebGpuBackend(await acquireNodeDevice());
    const pipe = buildPipeline(be, await loadPipelineFolder(nodeFolderSource(MODEL), { variant: 'fp32' }));
    const src = testImage();
    const rgb = new Uint8Array(S * S * 3).map((_, i) => src[Math.floor(i / 3) * 4 + (i % 3)]);
    const want = await pipe.edit(
      { width: S, height: S, data: rgb },
      { prompt: 'make it snowy', negativePrompt: '', steps: 2, guidanceScale: 7.5, imageGuidanceScale: 1.5, seed: 42, scheduler: 'euler-ancestral', maxSize: 512 },
    );
    be.rt.device.destroy();
    const got = new Uint8Array(S * S * 3).map((_, i) => out.rgba[Math.floor(i / 3) * 4 + (i % 3)]);
    expect(Buffer.from(got).equals(Buffer.from(want.image.data))).toBe(true);
    expect(out.rgba.filter((_, i) => i % 4 === 3).every((a) => a === 255)).toBe(true);
    expect(new Set(got).size).toBeGreaterThan(16); // not a flat image

    // The PNG decodes (pngjs) to the same pixels and carries the parameters.
    const png = PNG.sync.read(Buffer.from(out.png));
    expect([png.width, png.height]).toEqual([S, S]);
    expect(Buffer.from(png.data).equals(Buffer.from(out.rgba))).toBe(true);
    expect(readPngText(out.png)).toEqual({
      prompt: 'make it snowy',
      negative_prompt: '',
      seed: '42',
      steps: '2',
      text_guidance: '7.5',
      image_guidance: '1.5',
      scheduler: 'euler-ancestral',
      model: 'bundled:tiny-ip2p',
      Software: 'Retouch',
    });
  });

  it('stores activations as f16 by default where the adapter has shader-f16, within 35 dB of the f32 result', async () => {
    const ctx = await testGpu();
    const auto = service({ activations: 'auto' });
    await auto.init();
    await auto.load({ kind: 'bundled', name: 'tiny-ip2p' }, () => {});
    const [a, b] = [await auto.edit(job(), {}), await svc.edit(job(), {})];
    let se = 0, diff = 0;
    for (let i = 0; i < a.rgba.length; i++) {
      se += (a.rgba[i] - b.rgba[i]) ** 2;
      if (a.rgba[i] !== b.rgba[i]) diff++;
    }
    const psnr = 10 * Math.log10((255 * 255) / Math.max(se / a.rgba.length, 1e-12));
    console.log(`[engine_service] auto activations (${ctx.features.shaderF16 ? 'f16' : 'f32'}) vs f32: PSNR ${psnr.toFixed(1)} dB, ${diff} bytes differ`);
    expect(psnr).toBeGreaterThanOrEqual(35);
    if (ctx.features.shaderF16) expect(diff, 'f16 storage changes some pixels').toBeGreaterThan(0);
    else expect(diff).toBe(0);
    auto.dispose();
  });

  it('creates no GPU pipeline during an edit (all compiled at load), for every scheduler', async () => {
    const device = svc.context!.device;
    const created = vi.spyOn(device, 'createComputePipelineAsync');
    const createdSync = vi.spyOn(device, 'createComputePipeline');
    const modules = vi.spyOn(device, 'createShaderModule');
    try {
      for (const scheduler of ['euler-ancestral', 'euler', 'ddim', 'dpm++2m'] as const) {
        await svc.edit(job({ scheduler, steps: 2, textGuidance: scheduler === 'euler' ? 1 : 7.5 }), {});
      }
      // 100x72 > maxSize 40: scaled to 40x29 -> 40x24 (multiples of 8), another shape, same kernels
      const big = await svc.edit(job({ image: { width: 100, height: 72, rgba: testImage(100, 72) }, maxSize: 40, steps: 1 }), {});
      expect(big).toMatchObject({ width: 40, height: 24, scaled: true, inputWidth: 100, inputHeight: 72 });
    } finally {
      created.mockRestore();
      createdSync.mockRestore();
      modules.mockRestore();
    }
    expect(created).toHaveBeenCalledTimes(0);
    expect(createdSync).toHaveBeenCalledTimes(0);
    expect(modules).toHaveBeenCalledTimes(0);
  });

  it('the same seed gives the same pixels; alpha does not matter; another seed differs', async () => {
    const a = await svc.edit(job(), {});
    const b = await svc.edit(job({ image: { width: S, height: S, rgba: testImage(S, S, () => 255) } }), {});
    const c = await svc.edit(job({ seed: 43 }), {});
    expect(Buffer.from(a.rgba).equals(Buffer.from(b.rgba))).toBe(true);
    expect(Buffer.from(a.rgba).equals(Buffer.from(c.rgba))).toBe(false);
  });

  it('cancels between steps, then edits again', async () => {
    const ac = new AbortController();
    const steps: number[] = [];
    const err = await rejection(
      svc.edit(job({ steps: 20 }), { onProgress: (p) => (p.stage === 'denoise' && steps.push(p.step), p.step === 2 && ac.abort()) }, ac.signal),
    );
    expect(err.code).toBe('cancelled');
    expect(Math.max(...steps)).toBe(2);
    const again = await svc.edit(job({ steps: 1 }), {});
    expect(again.width).toBe(S);
  });

  it('rejects a second edit while one runs (busy)', async () => {
    const first = svc.edit(job(), {});
    const err = await rejection(svc.edit(job(), {}));
    expect(err.code).toBe('busy');
    expect(err.message).toMatch(/an edit is running/);
    await first;
  });

  it('rejects bad images and bad parameters with their codes', async () => {
    const cases: [Partial<EditJob>, string, RegExp][] = [
      [{ image: { width: 64, height: 64, rgba: new Uint8ClampedArray(64 * 64 * 3) } }, 'bad-image', /not RGBA of 64x64 \(16384 bytes expected, got 12288 bytes\)/],
      [{ image: { width: 4, height: 4, rgba: new Uint8ClampedArray(64) } }, 'bad-image', /too small/],
      [{ image: { width: 0, height: 64, rgba: new Uint8ClampedArray(0) } }, 'bad-image', /0x64/],
      [{ steps: 0 }, 'bad-request', /steps must be a whole number from 1 to 1000/],
      [{ seed: -1 }, 'bad-request', /seed/],
      [{ scheduler: 'plms' as EditJob['scheduler'] }, 'bad-request', /unknown scheduler "plms"/],
      [{ maxSize: 4 }, 'bad-request', /maxSize/],
    ];
    for (const [over, code, msg] of cases) {
      const err = await rejection(svc.edit(job(over), {}));
      expect(err.code, JSON.stringify(Object.keys(over))).toBe(code);
      expect(err.message).toMatch(msg);
    }
  });

  it('counts prompt tokens with the model tokenizer', () => {
    expect(svc.tokenCount('a photo of a cat')).toBe(5);
    expect(svc.tokenCount('')).toBe(0);
  });
});

describe('EngineService without a usable model', () => {
  it('says a folder without model_index.json is not a model (bad-model), and keeps nothing loaded', async () => {
    const dir = MODEL + 'golden/';
    const files = readdirSync(dir).map((name) =>
      Object.assign(new File([readFileSync(dir + name)], name), { webkitRelativePath: `golden/${name}` }),
    );
    const svc = service();
    const err = await rejection(svc.load({ kind: 'files', files }, () => {}));
    expect(err.code).toBe('bad-model');
    expect(err.message).toMatch(/not a diffusers pipeline folder: golden has no model_index.json/);
    const edit = await rejection(svc.edit(job(), {}));
    expect(edit.code).toBe('bad-request');
    expect(edit.message).toMatch(/No model is loaded/);
    expect((await rejection(Promise.resolve().then(() => svc.tokenCount('x')))).code).toBe('bad-request');
    svc.dispose();
  });

  it('plans a picked folder as already local (nothing to download)', async () => {
    const rels = readdirSync(MODEL, { recursive: true, encoding: 'utf8' }).filter((r) => !r.startsWith('golden') && r.includes('.'));
    const files = rels.map((rel) => Object.assign(new File([readFileSync(MODEL + rel)], rel.split('/').pop()!), { webkitRelativePath: `tiny/${rel}` }) as PickedFile as File);
    const svc = service();
    const plan = await svc.plan({ kind: 'files', files });
    expect(plan.cachedBytes).toBe(plan.totalBytes);
    expect(plan.files.every((f) => f.cached)).toBe(true);
    expect(svc.tokenCount('a photo of a cat')).toBe(5); // the planned model's tokenizer
    svc.dispose();
  });

  it('plans a model at a URL from its configs and weight headers, without downloading the weights', async () => {
    const server = await serveFolder(MODEL);
    try {
      const svc = service();
      const plan = await svc.plan({ kind: 'url', url: server.url, variant: 'auto' });
      expect(plan).toMatchObject({ fitsAdapter: true, variant: 'fp32', dtype: 'f32' });
      const weightBytes = WEIGHTS32.reduce((a, p) => a + statSync(MODEL + p).size, 0);
      const sentForWeights = server.requests.filter((r) => r.path.endsWith('.safetensors')).reduce((a, r) => a + r.bytes, 0);
      expect(sentForWeights).toBeGreaterThan(0);
      expect(sentForWeights).toBeLessThan(weightBytes / 20); // headers only
      svc.dispose();
    } finally {
      await server.close();
    }
  });

  it('tells an unreachable server (download) from a server without a model (bad-model)', async () => {
    const down = await rejection(service().plan({ kind: 'url', url: 'http://127.0.0.1:9/model', variant: 'auto' }));
    expect(down.code).toBe('download');
    expect(down.message).toMatch(/Cannot reach 127\.0\.0\.1:9\/model/);
    const server = await serveFolder(MODEL + 'golden');
    try {
      const empty = await rejection(service().load({ kind: 'url', url: server.url, variant: 'auto' }));
      expect(empty.code).toBe('bad-model');
      expect(empty.message).toMatch(/not a diffusers pipeline folder/);
    } finally {
      await server.close();
    }
  });

  it('reports a missing WebGPU as no-webgpu with what to do', async () => {
    const svc = new EngineService({ acquire: () => import('../../src/engine/gpu/device.ts').then((m) => m.acquireDevice({ gpu: undefined })) });
    const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true });
    try {
      const err = await rejection(svc.init());
      expect(err.code).toBe('no-webgpu');
      expect(err.message).toMatch(/chrome:\/\/flags\/#enable-unsafe-webgpu/);
    } finally {
      if (had) Object.defineProperty(globalThis, 'navigator', had);
    }
  });
});

describe('device loss', () => {
  it('reports the loss, then re-acquires and reloads the model on the next edit with identical results', async () => {
    const svc = service();
    await svc.load(BUNDLED, () => {});
    const before = await svc.edit(job(), {});
    const lost: string[] = [];
    svc.onDeviceLost((m) => lost.push(m));
    const old = svc.context!;
    old.device.destroy(); // as a driver reset would
    await old.lost;
    await vi.waitFor(() => expect(lost.length).toBe(1));
    expect(lost[0]).toMatch(/GPU device was lost/);
    expect(svc.context).toBe(null);
    const after = await svc.edit(job(), {});
    expect(svc.context).not.toBe(old);
    expect(Buffer.from(after.rgba).equals(Buffer.from(before.rgba))).toBe(true);
    svc.dispose();
    await new Promise((r) => setTimeout(r, 50));
    expect(lost.length).toBe(1); // our own dispose is not a loss
  });
});

describe('EngineHost (the worker side of the protocol)', () => {
  it('answers every request with its id, routes progress, cancels, and turns failures into error replies', async () => {
    const replies: EngineReply[] = [];
    const host = new EngineHost(service(), (r) => replies.push(r));
    await host.handle({ type: 'init', id: 1 });
    expect(replies.at(-1)).toMatchObject({ type: 'ready', id: 1 });
    await host.handle({ type: 'tokenCount', id: 2, text: 'x' });
    expect(replies.at(-1)).toMatchObject({ type: 'error', id: 2, error: { code: 'bad-request' } });
    await host.handle({ type: 'load', id: 3, source: BUNDLED });
    expect(replies.filter((r) => r.id === 3).map((r) => r.type).at(-1)).toBe('loaded');
    expect(replies.some((r) => r.id === 3 && r.type === 'loadProgress' && r.progress.stage === 'compile')).toBe(true);

    const editing = host.handle({ type: 'edit', id: 4, job: job({ steps: 20 }) });
    await vi.waitFor(() => expect(replies.some((r) => r.id === 4 && r.type === 'preview')).toBe(true), { timeout: 60_000, interval: 5 });
    await host.handle({ type: 'cancel', id: 5, target: 4 });
    await editing;
    expect(replies.filter((r) => r.id === 5)).toEqual([]);
    expect(replies.at(-1)).toMatchObject({ type: 'error', id: 4, error: { code: 'cancelled' } });
    const previews = replies.filter((r) => r.id === 4 && r.type === 'preview');
    expect(previews.length).toBeLessThan(20);

    await host.handle({ type: 'edit', id: 6, job: job() });
    const result = replies.at(-1)!;
    expect(result.type).toBe('result');
    if (result.type === 'result') expect(result.output.rgba.length).toBe(S * S * 4);

    await host.handle({ type: 'nonsense', id: 7 } as unknown as Parameters<EngineHost['handle']>[0]);
    expect(replies.at(-1)).toMatchObject({ type: 'error', id: 7, error: { code: 'bad-request', message: 'unknown request "nonsense"' } });
    await host.handle({ type: 'cacheList', id: 8 });
    expect(replies.at(-1)).toMatchObject({ type: 'error', id: 8, error: { code: 'internal' } }); // no cache in Node
  });
});

describe('Hub models (a fake Hub on 127.0.0.1, a memory cache)', () => {
  const REPO = 'test/tiny-ip2p';
  let hub: FakeHub;
  beforeAll(async () => {
    hub = await startFakeHub({ folder: MODEL, repo: REPO });
  });
  afterAll(() => hub?.close());
  const src = () => ({ kind: 'hub', repo: REPO, revision: 'main', baseUrl: hub.url, variant: 'fp32' }) as const;
  /** Body bytes the Hub sent for a file, and how many responses carried all of it. */
  const sent = (path: string) => {
    const size = statSync(MODEL + path).size;
    const t = hub.transfers(path);
    return { bytes: t.reduce((a, r) => a + r.bytes, 0), whole: t.filter((r) => r.bytes === size).length, size };
  };

  it('checks the adapter before downloading: a model that does not fit downloads no weights', async () => {
    const svc = service({ cache: new MemoryCache(), weightBudget: 1000 });
    const plan = await svc.plan(src());
    expect(plan.fitsAdapter).toBe(false);
    // the configs and tokenizer are fetched (and so cached) by the plan; the weights are not
    expect(plan.files.filter((f) => !f.cached).map((f) => f.path)).toEqual(WEIGHTS32);
    const err = await rejection(svc.load(src()));
    expect(err.code).toBe('adapter-too-small');
    for (const p of WEIGHTS32) {
      const s = sent(p);
      expect(s.whole, p).toBe(0);
      expect(s.bytes, p).toBeLessThan(s.size / 10); // headers by Range only
    }
  });

  it('plans, downloads once into the cache with progress, then lists and deletes the cached model', async () => {
    const cache = new MemoryCache();
    const svc = service({ cache });
    const plan = await svc.plan(src());
    const weightBytes = WEIGHTS32.reduce((a, p) => a + statSync(MODEL + p).size, 0);
    expect(plan).toMatchObject({ fitsAdapter: true, variant: 'fp32', dtype: 'f32', cachedBytes: plan.totalBytes - weightBytes });
    expect(plan.files.map((f) => f.path)).toEqual(expect.arrayContaining(['model_index.json', ...WEIGHTS32]));
    for (const f of plan.files) expect(f.bytes, f.path).toBe(statSync(MODEL + f.path).size);

    const progress: LoadProgress[] = [];
    const model = await svc.load(src(), (p) => progress.push(p));
    expect(model).toMatchObject({ id: `hub:${hub.url}/${REPO}@main:fp32`, randomWeights: false, dtype: 'f32' });
    expect(progress.map((p) => p.stage).filter((s, i, a) => s !== a[i - 1])).toEqual(['download', 'read', 'compile', 'ready']);
    const downloads = progress.filter((p) => p.stage === 'download');
    expect(downloads.at(-1)).toMatchObject({ loadedBytes: plan.totalBytes, totalBytes: plan.totalBytes });
    for (const p of WEIGHTS32) expect(sent(p).whole, p).toBe(1);

    const again = await svc.plan(src());
    expect(again.cachedBytes).toBe(again.totalBytes);
    const listed = await svc.cacheList();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ key: `${hub.url}/${REPO}/resolve/`, label: `${REPO} (${new URL(hub.url).host})` });
    expect(listed[0].bytes).toBeGreaterThanOrEqual(plan.totalBytes);
    await svc.cacheDelete(listed[0].key);
    expect(await svc.cacheList()).toEqual([]);
    expect(await cache.list()).toEqual([]);
  });
});

/** A Worker stand-in that runs an EngineHost in this process; messages are structured-cloned with their
 * transfer lists, as postMessage does. */
function inProcessWorker(svc: EngineService) {
  const w = {
    onmessage: null as ((ev: { data: unknown }) => void) | null,
    onerror: null as ((ev: { message: string; preventDefault(): void }) => void) | null,
    onmessageerror: null as (() => void) | null,
    terminated: false,
    postMessage(msg: unknown, transfer: Transferable[] = []) {
      const copy = structuredClone(msg, { transfer });
      void Promise.resolve().then(() => host.handle(copy as Parameters<EngineHost['handle']>[0]));
    },
    terminate() {
      w.terminated = true;
    },
  };
  const host = new EngineHost(svc, (reply, transfer) => {
    if (!w.terminated) w.onmessage?.({ data: structuredClone(reply, { transfer }) });
  });
  return w;
}

describe('EngineClient over an in-process worker', () => {
  it('loads, edits (the page keeps its image), cancels by AbortSignal, and reports errors as EngineError', async () => {
    const svc = service();
    const client = new EngineClient(() => inProcessWorker(svc) as unknown as Worker);
    expect((await client.init()).description).toBe((await svc.init()).description);
    const stages = new Set<string>();
    const model = await client.load(BUNDLED, (p) => stages.add(p.stage));
    expect(model.id).toBe('bundled:tiny-ip2p');
    expect([...stages]).toEqual(['read', 'compile', 'ready']);
    const j = job();
    const previews: number[] = [];
    const out = await client.edit(j, { onPreview: (img, step) => previews.push(step) });
    expect(j.image.rgba.length).toBe(S * S * 4); // not detached by the transfer
    expect(previews).toEqual([0, 1]);
    expect(out.rgba.length).toBe(S * S * 4);
    const direct = await svc.edit(job(), {});
    expect(Buffer.from(out.rgba).equals(Buffer.from(direct.rgba))).toBe(true);

    const ac = new AbortController();
    const err = await rejection(client.edit(job({ steps: 20 }), { onProgress: (p) => p.stage === 'denoise' && ac.abort() }, ac.signal));
    expect(err.code).toBe('cancelled');
    const bad = await rejection(client.edit(job({ steps: 0 }), {}));
    expect(bad.code).toBe('bad-request');
    expect(await client.tokenCount('a photo of a cat')).toBe(5);
    client.dispose();
    expect((await rejection(client.init())).code).toBe('cancelled');
  });

  it('fails pending calls when the worker does not start, then starts a new one', async () => {
    const svc = service();
    const made: ReturnType<typeof inProcessWorker>[] = [];
    const client = new EngineClient(() => {
      const w = inProcessWorker(svc);
      if (made.length === 0) w.postMessage = () => queueMicrotask(() => w.onerror?.({ message: 'import failed', preventDefault() {} }));
      made.push(w);
      return w as unknown as Worker;
    });
    const err = await rejection(client.init());
    expect(err.code).toBe('internal');
    expect(err.message).toMatch(/engine worker stopped: import failed/);
    expect(made[0].terminated).toBe(true);
    expect((await client.init()).description).toBeTruthy();
    expect(made.length).toBe(2);
    client.dispose();
  });
});
