// Issues 3 and 4 in Chromium: the op checks (WebGPU vs the CPU reference, with sentinels), the network goldens and
// the pipeline replays run on the browser's real WebGPU (SwiftShader here), model and goldens fetched over HTTP
// through Vite. One browser launch; the pipeline's run1 runs in the module worker, the rest on the page.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoldenErr } from '../helpers/errors.ts';
import { ROOT, startBrowserHarness, type BrowserHarness } from './harness.ts';
import type { NetworkArgs } from './suites/network_goldens.ts';
import type { OpResult } from './suites/ops_vs_cpu.ts';
import type { PipelineArgs, RunName } from './suites/pipeline_goldens.ts';

const MODEL_URL = '/models/tiny-ip2p';
/** The app's route answers 404 for golden/ (it must not ship them): Vite's /@fs/ serves them to the tests only. */
const GOLDEN_URL = `/@fs${join(ROOT, 'models/tiny-ip2p/golden')}`;
const OP_BAR = 1e-4;

function expectGolden(tag: string, errs: GoldenErr[], keys: string[]): void {
  for (const e of errs) {
    console.log(`[chromium ${tag}] ${e.key}: max|d| ${e.maxAbs.toExponential(2)} (bar ${e.bar.toExponential(2)}, std ${e.std.toFixed(3)}, n ${e.n})`);
  }
  expect(errs.map((e) => e.key)).toEqual(keys);
  for (const e of errs) expect(e.maxAbs, `${tag} ${e.key}: max|d| ${e.maxAbs} > bar ${e.bar}`).toBeLessThanOrEqual(e.bar);
}

describe('issues 3 and 4 on Chromium WebGPU', () => {
  let h: BrowserHarness;
  beforeAll(async () => {
    h = await startBrowserHarness();
    console.log(`[chromium goldens] adapter: ${h.adapter.description} (shader-f16 ${h.adapter.features.shaderF16})`);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('the goldens are not on the app route but reach the tests through /@fs/', async () => {
    expect((await fetch(`${h.baseUrl}${MODEL_URL}/golden/unet.safetensors`, { method: 'HEAD' })).status).toBe(404);
    expect((await fetch(`${h.baseUrl}${GOLDEN_URL}/cases.json`)).status).toBe(200);
  });

  it(`every Backend op: WebGPU vs CpuBackend within ${OP_BAR} (normalized), no write past any output`, async () => {
    const r = await h.run<{ realm: string; adapter: string; activationDtype: string; results: OpResult[] }>('ops_vs_cpu');
    console.log(`[chromium ops] ${r.realm}, ${r.adapter}, activations ${r.activationDtype}, ${r.results.length} cases`);
    for (const c of r.results) console.log(`[chromium ops] ${c.op} ${c.name} -> [${c.shape}]: ${c.err.toExponential(2)} sentinel ${c.sentinel}`);
    expect(r.realm).toBe('window');
    expect(r.activationDtype).toBe('f32');
    // every op of the Backend interface is covered, most at two shapes
    const ops = new Set(r.results.map((c) => c.op.split('+')[0]));
    for (const op of ['conv2d', 'groupNorm', 'layerNorm', 'linear', 'matmul', 'attention', 'softmax', 'silu', 'gelu', 'quickGelu',
      'geglu', 'exp', 'clamp', 'add', 'mul', 'scale', 'addPerChannel', 'lincomb', 'concatWeights', 'upsampleNearest', 'concat',
      'slice', 'nchwToNlc', 'nlcToNchw', 'timestepEmbedding', 'embedding', 'imageToTensor', 'tensorToImage']) {
      expect(ops.has(op), `op ${op} covered`).toBe(true);
    }
    for (const c of r.results) {
      expect(c.err, `${c.op} ${c.name}: normalized error`).toBeLessThanOrEqual(OP_BAR);
      const guard = c.op === 'tensorToImage' ? 'n/a' : c.op === 'timestepEmbedding' ? 'host' : 'ok';
      expect(c.sentinel, `${c.op} ${c.name}: sentinel`).toBe(guard);
    }
  }, 120_000);

  it('CLIP, VAE and UNet (fp32 and fp16 files) vs the goldens within 1e-3 x max(1, std)', async () => {
    const args: NetworkArgs = { modelUrl: MODEL_URL, goldenUrl: GOLDEN_URL, parts: ['clip', 'vae', 'unet', 'unet_fp16w'] };
    const r = await h.run<{ realm: string; adapter: string; errs: GoldenErr[]; ms: Record<string, number> }>('network_goldens', args);
    console.log(`[chromium networks] ${r.realm}, ${r.adapter}, ms ${JSON.stringify(r.ms, (_, v) => (typeof v === 'number' ? Math.round(v) : v))}`);
    expect(r.realm).toBe('window');
    expectGolden('networks', r.errs, [
      'text_encoder.last_hidden_state',
      'vae.enc.mode',
      'vae.dec.output',
      'unet.t0.noise_pred',
      'unet.t1.noise_pred',
      'unet.t2.noise_pred',
      'unet.batch3.noise_pred',
      'unet.t0.noise_pred_fp16w',
    ]);
  }, 180_000);

  const RUNS: { run: RunName; worker: boolean }[] = [
    { run: 'run1', worker: true },
    { run: 'run2', worker: false },
    { run: 'run1_fp16w', worker: false },
  ];
  it.each(RUNS)('pipeline $run (worker: $worker) vs diffusers with recorded noise', async ({ run, worker }) => {
    const args: PipelineArgs = { run, modelUrl: MODEL_URL, goldenUrl: GOLDEN_URL };
    const r = await h.run<{ realm: string; adapter: string; errs: GoldenErr[]; u8: { n: number; ours: number; within1: number; maxLevel: number }; ms: Record<string, number> }>(
      'pipeline_goldens',
      args,
      { worker },
    );
    console.log(`[chromium ${run}] ${r.realm}, ${r.adapter}: load ${r.ms.load.toFixed(0)} ms, edit ${r.ms.edit.toFixed(0)} ms; ` +
      `output_u8 ${(r.u8.within1 * 100).toFixed(2)}% within 1 level, max ${r.u8.maxLevel}`);
    expect(r.realm).toBe(worker ? 'worker' : 'window');
    const steps = [0, 1, 2, 3, 4].map((i) => `step${i}.latents_out`);
    expectGolden(run, r.errs, run === 'run1_fp16w' ? steps : ['prompt_embeds', 'image_latents', 'step0.noise_pred_batch', ...steps]);
    expect(r.u8.ours).toBe(r.u8.n);
    expect(r.u8.within1, `${run} output_u8 within 1 level`).toBeGreaterThanOrEqual(0.995);
    expect(r.u8.maxLevel, `${run} output_u8 max level difference`).toBeLessThanOrEqual(3);
  }, 180_000);
});
