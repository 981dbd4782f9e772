// Suite: a full InstructPix2Pix edit replayed on Chromium's WebGPU with diffusers' recorded noise (runs run1, run2,
// run1_fp16w of the fixture), model and goldens fetched over HTTP. Returns the per-tensor errors with their bars and
// the output_u8 level statistics; the Node test asserts them (issue 4's bars).
import { acquireDevice, describeAdapter } from '../../../src/engine/gpu/device.ts';
import { WebGpuBackend } from '../../../src/engine/ops/webgpu/backend.ts';
import { buildPipeline } from '../../../src/engine/pipelines/load.ts';
import { recordedNoise } from '../../../src/engine/pipelines/recorded_noise.ts';
import { loadPipelineFolder, urlSource } from '../../../src/engine/weights/diffusers.ts';
import { SafetensorsFile } from '../../../src/engine/weights/safetensors.ts';
import { goldenErr, type GoldenErr } from '../../helpers/errors.ts';
import { realm } from './context.ts';

/** The recorded runs' requests (../shared/fixtures/GOLDEN.md). */
const RUNS = {
  run1: { prompt: 'make the sky a sunset', g: 7.5, ig: 1.5, variant: 'fp32' as const },
  run2: { prompt: 'turn it into a watercolor painting', g: 3.0, ig: 1.0, variant: 'fp32' as const },
  run1_fp16w: { prompt: 'make the sky a sunset', g: 7.5, ig: 1.5, variant: 'fp16' as const },
};
export type RunName = keyof typeof RUNS;
const STEPS = 5;

export interface PipelineArgs {
  run: RunName;
  modelUrl: string;
  goldenUrl: string;
}

export default async function pipelineGoldens(args: unknown) {
  const { run, modelUrl, goldenUrl } = args as PipelineArgs;
  const r = RUNS[run];
  if (!r) throw new Error(`unknown run ${run}`);
  const origin = globalThis.location.origin;
  const ctx = await acquireDevice();
  try {
    const t0 = performance.now();
    const be = new WebGpuBackend(ctx);
    const folder = await loadPipelineFolder(urlSource(origin + modelUrl), { variant: r.variant });
    const pipe = buildPipeline(be, folder);
    const file = await SafetensorsFile.fromUrl(`${origin}${goldenUrl}/pipeline.safetensors`);
    const info = file.info(`${run}.image_u8`);
    const image = { height: info.shape[0], width: info.shape[1], data: (await file.read(`${run}.image_u8`)).data as Uint8Array };
    const dumped = new Map<string, Float32Array | Int32Array | Uint8Array>();
    const t1 = performance.now();
    const res = await pipe.edit(
      image,
      { prompt: r.prompt, guidanceScale: r.g, imageGuidanceScale: r.ig, steps: STEPS, noise: await recordedNoise(file, STEPS, `${run}.`) },
      { dump: (name, data) => dumped.set(name, data) },
    );
    const t2 = performance.now();
    const errs: GoldenErr[] = [];
    const ours = (k: string) => {
      const v = dumped.get(k);
      if (!v) throw new Error(`${run}: the pipeline dumped no ${k}`);
      return v;
    };
    // as in Node (tests/golden/pipeline.test.ts): the fp16-weight run is held to its steps and image only, since its
    // embeddings carry the weights' own f16 rounding (well above 1e-3)
    if (run !== 'run1_fp16w') {
      for (const k of ['prompt_embeds', 'image_latents', 'step0.noise_pred_batch']) {
        errs.push(goldenErr(k, ours(k), await file.readF32(`${run}.${k}`), 1e-3));
      }
    }
    for (let i = 0; i < STEPS; i++) {
      const k = `step${i}.latents_out`;
      errs.push(goldenErr(k, ours(k), await file.readF32(`${run}.${k}`), 2e-3, true));
    }
    const ref = (await file.read(`${run}.output_u8`)).data as Uint8Array;
    const out = res.image.data;
    let within1 = 0, maxLevel = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(out[i] - ref[i]);
      if (d <= 1) within1++;
      maxLevel = Math.max(maxLevel, d);
    }
    return {
      realm: realm(),
      adapter: describeAdapter(ctx),
      run,
      errs,
      u8: { n: ref.length, ours: out.length, within1: within1 / ref.length, maxLevel },
      ms: { load: t1 - t0, edit: t2 - t1 },
    };
  } finally {
    ctx.device.destroy();
  }
}
