// Entry of bench.html: the SD 1.5 first down block (CrossAttnDownBlock2D) run by our engine and by onnxruntime-web's
// WebGPU EP in this one page, on the same inputs, each timed from host arrays to host arrays (upload the three
// inputs, run, read the three outputs back), and both checked against PyTorch's outputs where the goldens exist.
// The Node side (src/cli/bench_peer.ts) serves the data files and prints the result.
import * as ort from 'onnxruntime-web/webgpu';
import { acquireDevice } from '../../../src/engine/gpu/device.ts';
import { getDownBlock } from '../../../src/engine/models/unet_2d_blocks.ts';
import { WebGpuBackend } from '../../../src/engine/ops/webgpu/backend.ts';
import { gaussian } from '../../../src/engine/random/gaussian.ts';
import { HostWeightSource } from '../../../src/engine/weights/diffusers.ts';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';
import { VarBuilder } from '../../../src/engine/weights/var_builder.ts';
import { blockConfig, errorStat, OUTPUTS, type OutputName, type PeerArgs, type PeerPageResult } from './bench_shared.ts';

declare global {
  interface Window {
    __bench?: { peer(args: PeerArgs): Promise<PeerPageResult> };
  }
}

const log = (msg: string) => console.log(`[bench] ${msg}`);

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text().catch(() => '')}`);
  return res.arrayBuffer();
}

const adapterName = (i: { vendor?: string; architecture?: string; device?: string; description?: string } | undefined) =>
  [i?.vendor, i?.architecture, i?.device, i?.description].filter(Boolean).join(' / ') || 'unknown adapter';

type Inputs = { hidden_states: Float32Array; temb: Float32Array; encoder_hidden_states: Float32Array };
type Outputs = Record<OutputName, Float32Array>;

async function timeRuns(what: string, args: PeerArgs, once: () => Promise<Outputs>): Promise<{ warmup_ms: number[]; runs_ms: number[]; out: Outputs }> {
  const warmup_ms: number[] = [];
  const runs_ms: number[] = [];
  let out: Outputs | null = null;
  for (let i = 0; i < args.warmup; i++) {
    const t0 = performance.now();
    out = await once();
    warmup_ms.push(performance.now() - t0);
    log(`${what}: warm-up ${i + 1}/${args.warmup} ${warmup_ms[i].toFixed(0)} ms`);
  }
  let spent = 0;
  for (let i = 0; i < args.runs; i++) {
    if (i > 0 && spent >= args.budgetMs) {
      log(`${what}: stopping after ${i} of ${args.runs} runs (time budget of ${(args.budgetMs / 1000).toFixed(0)} s spent)`);
      break;
    }
    const t0 = performance.now();
    out = await once();
    const ms = performance.now() - t0;
    spent += ms;
    runs_ms.push(ms);
    log(`${what}: run ${i + 1}/${args.runs} ${ms.toFixed(0)} ms`);
  }
  return { warmup_ms, runs_ms, out: out! };
}

async function runOurs(args: PeerArgs, weights: ArrayBuffer, cfg: ReturnType<typeof blockConfig>, x: Inputs, S: number) {
  const t0 = performance.now();
  const ctx = await acquireDevice();
  try {
    const be = new WebGpuBackend(ctx);
    const file = SafetensorsFile.fromArrayBuffer(new Uint8Array(weights), 'sd15_down0.weights.safetensors');
    const vb = VarBuilder.from(be, new HostWeightSource(file.fileName, await file.readAll()));
    const block = getDownBlock(cfg.type, vb, cfg.config);
    vb.finish();
    await be.flush();
    const load_ms = performance.now() - t0;
    const adapter = adapterName(ctx.adapterInfo);
    log(`ours: block built on ${adapter} in ${load_ms.toFixed(0)} ms`);
    const C = cfg.config.inChannels;
    const once = async (): Promise<Outputs> => {
      const hs = be.fromArray(x.hidden_states, [3, C, S, S]);
      const temb = be.fromArray(x.temb, [3, cfg.config.tembChannels]);
      const ehs = be.fromArray(x.encoder_hidden_states, [3, 77, cfg.config.crossAttentionDim]);
      const states = block.forward(hs, temb, ehs); // r0 [3,C,S,S], r1 [3,C,S,S], out [3,C,S/2,S/2]
      const read = await Promise.all(states.map((t) => be.read(t)));
      for (const t of [hs, temb, ehs, ...states]) be.release(t);
      return { res_0: read[0], res_1: read[1], hidden_states_out: read[2] };
    };
    const r = await timeRuns('ours', args, once);
    return { timing: { adapter, load_ms, runs_ms: r.runs_ms, warmup_ms: r.warmup_ms }, out: r.out };
  } finally {
    ctx.device.destroy();
  }
}

async function runOrt(args: PeerArgs, onnx: ArrayBuffer, weights: ArrayBuffer, x: Inputs, S: number, C: number, D: number) {
  ort.env.wasm.wasmPaths = args.wasmUrl;
  ort.env.wasm.numThreads = 1; // the page is not cross-origin isolated: no SharedArrayBuffer threads
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(new Uint8Array(onnx), {
    executionProviders: ['webgpu'],
    externalData: [{ path: 'sd15_down0.weights.safetensors', data: new Uint8Array(weights) }],
  });
  try {
    const load_ms = performance.now() - t0;
    const device = await ort.env.webgpu.device;
    const adapter = adapterName(device?.adapterInfo);
    log(`ort ${ort.env.versions.web}: session created on ${adapter} in ${load_ms.toFixed(0)} ms`);
    const once = async (): Promise<Outputs> => {
      const feeds = {
        hidden_states: new ort.Tensor('float32', x.hidden_states, [3, C, S, S]),
        temb: new ort.Tensor('float32', x.temb, [3, x.temb.length / 3]),
        encoder_hidden_states: new ort.Tensor('float32', x.encoder_hidden_states, [3, 77, D]),
      };
      const res = await session.run(feeds);
      const get = (n: OutputName) => {
        const t = res[n];
        if (!t) throw new Error(`ORT gave no output ${n} (has ${Object.keys(res).join(', ')})`);
        return (t.data as Float32Array).slice();
      };
      const out = { res_0: get('res_0'), res_1: get('res_1'), hidden_states_out: get('hidden_states_out') };
      for (const t of Object.values(res)) t.dispose();
      return out;
    };
    const r = await timeRuns('ort', args, once);
    return { timing: { adapter, load_ms, runs_ms: r.runs_ms, warmup_ms: r.warmup_ms, version: ort.env.versions.web ?? 'unknown' }, out: r.out };
  } finally {
    await session.release();
  }
}

async function peer(args: PeerArgs): Promise<PeerPageResult> {
  const S = args.size;
  const url = (f: string) => `${args.dataUrl}${f}`;
  log(`fetching ${args.dataUrl} (size ${S})`);
  const [configText, weights, onnx] = await Promise.all([
    fetch(url('sd15_down0.config.json')).then((r) => (r.ok ? r.text() : Promise.reject(new Error(`config: HTTP ${r.status}`)))),
    fetchBytes(url('sd15_down0.weights.safetensors')),
    fetchBytes(url(`sd15_down0_${S}.onnx`)),
  ]);
  const cfg = blockConfig(JSON.parse(configText));
  const C = cfg.config.inChannels;
  const D = cfg.config.crossAttentionDim;

  // Inputs: PyTorch's for 32 (with its outputs); for other sizes seeded N(0,1) hidden states and the golden's
  // temb and text states (the same shapes at every size).
  const golden = SafetensorsFile.fromArrayBuffer(new Uint8Array(await fetchBytes(url('sd15_down0_32.golden.safetensors'))), 'golden');
  const withGolden = S === 32;
  const inputs: Inputs = {
    hidden_states: withGolden ? await golden.readF32('hidden_states') : gaussian(3 * C * S * S, 6, 0),
    temb: await golden.readF32('temb'),
    encoder_hidden_states: await golden.readF32('encoder_hidden_states'),
  };
  const ref: Outputs | null = withGolden
    ? { res_0: await golden.readF32('res_0'), res_1: await golden.readF32('res_1'), hidden_states_out: await golden.readF32('hidden_states_out') }
    : null;

  const ours = await runOurs(args, weights, cfg, inputs, S);
  const theirs = await runOrt(args, onnx, weights, inputs, S, C, D);
  const errors = {} as PeerPageResult['errors'];
  for (const n of OUTPUTS) {
    errors[n] = {
      ours: ref ? errorStat(ours.out[n], ref[n]) : null,
      ort: ref ? errorStat(theirs.out[n], ref[n]) : null,
      ours_vs_ort: errorStat(ours.out[n], theirs.out[n]),
    };
  }
  return { size: S, ours: ours.timing, ort: theirs.timing, errors, inputs: withGolden ? 'golden' : 'seeded' };
}

window.__bench = { peer };
document.body.dataset.ready = 'true';
