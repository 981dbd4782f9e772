// The cost meter: plans a whole InstructPix2Pix edit by running the pipeline's own code (encodePrompt,
// prepareImageLatents, the denoising loop, decodeLatents) on the counting backend, with shape-only weights, a
// stub tokenizer, a blank image and zero noise. So FLOPs, dispatches, submits, readbacks and the buffer plan come
// from the model code that runs on the GPU, not from a separate formula. Needs only the four config.json objects.
import { parseClipTextConfig, parseUNetConfig, parseVaeConfig } from './models/configs.ts';
import { CLIPTextModel } from './models/modeling_clip.ts';
import { AutoencoderKL } from './models/autoencoder_kl.ts';
import { UNet2DConditionModel } from './models/unet_2d_condition.ts';
import type { DType } from './ops/ops.ts';
import { CountingBackend } from './ops/counting/backend.ts';
import { diffTotals, type Tally, type Totals } from './ops/counting/ledger.ts';
import { DEFAULT_POOL_POLICY, type PoolPolicy } from './ops/counting/buffer_plan.ts';
import { InstructPix2PixPipeline, type EditHooks, type NoiseSource } from './pipelines/pipeline_instruct_pix2pix.ts';
import type { SchedulerConfigJson, SchedulerName } from './schedulers/index.ts';
import type { ClipTokenizer } from './tokenizer/clip_tokenizer.ts';
import { VarBuilder } from './weights/var_builder.ts';

type Json = Record<string, unknown>;

export interface PlanRequest {
  /** The raw config.json objects of the pipeline folder. */
  configs: { unet: Json; vae: Json; text_encoder: Json; scheduler: Json };
  /** Image side in pixels (square), e.g. 512 -> a 64 x 64 latent. */
  size: number;
  steps: number;
  /** Weights stored as f16 (the fp16 files) rather than f32. */
  f16: boolean;
  /** Activation storage; f32 (default) is what the kernels take today. */
  activationDtype?: DType;
  /** Read back a preview after every step (the app does; the CLI's edit does not). Default false. */
  preview?: boolean;
  guidanceScale?: number; // 7.5
  imageGuidanceScale?: number; // 1.5
  scheduler?: SchedulerName; // euler-ancestral
  /** The pool's grow-trim thresholds for the (measured) edit, as rt.setPoolPolicy() sets them; default DEFAULT_POOL_POLICY. */
  pool?: Partial<PoolPolicy>;
  /**
   * Side of an edit run first, with the default pool policy, as a warmed-up engine has (the worker compiles every
   * pipeline at load with a small edit; a runtime grow-trims only with compiled pipelines). Counters and peaks
   * then cover both edits; per-step figures come from the second.
   */
  warmup?: number;
}

export const STAGES = ['text_encoder', 'vae_encode', 'unet', 'vae_decode', 'other'] as const;
export type Stage = (typeof STAGES)[number];

export interface EditPlan {
  size: number;
  latent: [number, number];
  steps: number;
  /** UNet batch per step: 3 with dual guidance, else 1. */
  batch: number;
  weight_dtype: DType;
  activation_dtype: DType;

  /** FLOPs of the whole edit. */
  flops: number;
  flops_by_kind: Record<string, number>;
  /** Per stage; "other" is the pipeline's glue (image conversion, concat, guidance, scheduler). */
  flops_by_stage: Record<Stage, number>;
  /** One UNet forward of one sample (a step runs `batch` of them). */
  flops_per_unet_evaluation: number;
  dispatches_by_kind: Record<string, number>;
  dispatches_by_stage: Record<Stage, number>;

  /** Exact weight bytes (elements x dtype size). */
  weight_bytes: number;
  weight_bytes_by_component: { unet: number; vae: number; text_encoder: number };
  /** Everything the runtime's pool holds at its peak: weight buffers plus activation and upload buffers. */
  peak_bytes: number;
  /** The weight buffers among peak_bytes (sizes rounded as the runtime does). */
  peak_weight_bytes: number;
  max_buffer_bytes: number;
  max_buffer: string;
  /** The largest buffer bound to one dispatch (against maxStorageBufferBindingSize). */
  max_binding_bytes: number;
  max_binding: { op: string; shape: number[] };
  /**
   * Per stage: the most GPU memory held (weights included) while it allocated, and its largest binding. "unet"
   * is the UNet forwards of the loop; the loop's glue (concat, guidance, scheduler) is in "other".
   */
  peak_bytes_by_stage: Record<Stage, number>;
  max_binding_by_stage: Record<Stage, { bytes: number; op: string; shape: number[] }>;
  /** Times the pool submitted early and destroyed free buffers rather than grow (buffer_plan.ts). */
  grow_trims: number;

  dispatches: number;
  submits: number;
  readbacks: number;
  /** One denoising step (the second: the first whose start the pipeline marks), counters before and after it. */
  dispatches_per_step: number;
  submits_per_step: number;
  readbacks_per_step: number;
  bytes_read_per_step: number;
  bytes_written_per_step: number;
  flops_per_step: number;
}

/** The tokenizer's only use in the pipeline is 77 ids per prompt; the cost does not depend on them. */
const stubTokenizer = { encode: () => new Int32Array(77) } as unknown as ClipTokenizer;

const zeroNoise: NoiseSource = {
  latents: (shape) => new Float32Array(shape.reduce((a, b) => a * b, 1)),
  step: (_i, shape) => new Float32Array(shape.reduce((a, b) => a * b, 1)),
};

/** Runs fn with the backend's work attributed to `stage`. */
function inStage<T>(be: CountingBackend, stage: Stage, fn: () => T): T {
  const prev = be.stage;
  be.stage = stage;
  try {
    return fn();
  } finally {
    be.stage = prev;
  }
}

export async function planEdit(req: PlanRequest): Promise<EditPlan> {
  if (!(Number.isInteger(req.steps) && req.steps >= 2)) throw new Error(`planEdit: steps must be an integer >= 2, got ${req.steps}`);
  if (!(Number.isInteger(req.size) && req.size >= 8)) throw new Error(`planEdit: size must be an integer >= 8, got ${req.size}`);
  const weightDtype: DType = req.f16 ? 'f16' : 'f32';
  const be = new CountingBackend({ weightDtype, activationDtype: req.activationDtype ?? 'f32' });

  // 1. the three networks, shape-only, weights uploaded in load order as buildPipeline() does
  const build = <M extends object>(component: string, make: (vb: VarBuilder) => M): M => {
    const vb = VarBuilder.from(be, null);
    const model = make(vb);
    be.adoptWeights(model, component);
    const bytes = be.weightBytes.get(component) ?? 0;
    const expected = vb.paramCount * (weightDtype === 'f16' ? 2 : 4);
    if (bytes !== expected) throw new Error(`meter: ${component} has ${bytes} weight bytes, expected ${expected}`);
    return model;
  };
  const textEncoder = build('text_encoder', (vb) => new CLIPTextModel(vb, parseClipTextConfig(req.configs.text_encoder)));
  const vaeConfig = parseVaeConfig(req.configs.vae);
  const vae = build('vae', (vb) => new AutoencoderKL(vb, vaeConfig));
  const unet = build('unet', (vb) => new UNet2DConditionModel(vb, parseUNetConfig(req.configs.unet)));

  // 2. stage labels around each network's forward
  const textForward = textEncoder.forward.bind(textEncoder);
  textEncoder.forward = (...a) => inStage(be, 'text_encoder', () => textForward(...a));
  const encode = vae.encode.bind(vae);
  vae.encode = (...a) => inStage(be, 'vae_encode', () => encode(...a));
  const decode = vae.decode.bind(vae);
  vae.decode = (...a) => inStage(be, 'vae_decode', () => decode(...a));
  const unetForward = unet.forward.bind(unet);
  unet.forward = (...a) => inStage(be, 'unet', () => unetForward(...a));

  // 3. the edit, with counters read at the end of every step
  const pipe = new InstructPix2PixPipeline(be, {
    tokenizer: stubTokenizer,
    textEncoder,
    vae,
    unet,
    schedulerConfig: req.configs.scheduler as SchedulerConfigJson,
    scalingFactor: vaeConfig.scaling_factor,
  });
  const stepEnds: Totals[] = [];
  const blank = (n: number) => ({ width: n, height: n, data: new Uint8Array(n * n * 3) });
  const edit = (size: number, hooks: EditHooks) => pipe.edit(
    blank(size),
    {
      prompt: '',
      steps: req.steps,
      guidanceScale: req.guidanceScale,
      imageGuidanceScale: req.imageGuidanceScale,
      scheduler: req.scheduler,
      maxSize: size,
      noise: zeroNoise,
    },
    { onPreview: req.preview ? () => {} : undefined, ...hooks },
  );
  if (req.warmup) await edit(req.warmup, {});
  be.plan.pool.policy = { ...DEFAULT_POOL_POLICY, ...req.pool };
  const unetFlopsBefore = be.ledger.byStage.get('unet')?.flops ?? 0;
  const res = await edit(req.size, {
    onProgress: (p) => {
      if (p.stage === 'denoise') stepEnds.push(be.ledger.snapshot());
    },
  });
  const step = diffTotals(stepEnds[0], stepEnds[1]);
  const unetFlops = (be.ledger.byStage.get('unet')?.flops ?? 0) - unetFlopsBefore;
  return report(be, req, [res.image.height / vae.downscale, res.image.width / vae.downscale], step, unetFlops);
}

function report(be: CountingBackend, req: PlanRequest, latent: [number, number], step: Totals, unetFlops: number): EditPlan {
  const total = be.ledger.snapshot();
  const pick = (m: Map<string, Tally>, f: keyof Tally) => Object.fromEntries([...m].map(([k, t]) => [k, t[f]]));
  const byStage = (f: keyof Tally) => Object.fromEntries(STAGES.map((s) => [s, be.ledger.byStage.get(s)?.[f] ?? 0])) as Record<Stage, number>;
  const cfg = (req.guidanceScale ?? 7.5) > 1 && (req.imageGuidanceScale ?? 1.5) >= 1;
  const batch = cfg ? 3 : 1;
  const flopsByStage = byStage('flops');
  const w = (c: string) => be.weightBytes.get(c) ?? 0;
  const mb = be.ledger.maxBinding;
  return {
    size: req.size,
    latent,
    steps: req.steps,
    batch,
    weight_dtype: be.weightDtype,
    activation_dtype: be.activationDtype,
    flops: total.flops,
    flops_by_kind: pick(be.ledger.byKind, 'flops'),
    flops_by_stage: flopsByStage,
    flops_per_unet_evaluation: unetFlops / (req.steps * batch),
    dispatches_by_kind: pick(be.ledger.byKind, 'dispatches'),
    dispatches_by_stage: byStage('dispatches'),
    weight_bytes: w('unet') + w('vae') + w('text_encoder'),
    weight_bytes_by_component: { unet: w('unet'), vae: w('vae'), text_encoder: w('text_encoder') },
    peak_bytes: be.plan.peakBytes,
    peak_weight_bytes: be.plan.weightBytes,
    max_buffer_bytes: be.plan.maxBufferBytes,
    max_buffer: be.plan.maxBufferWhat,
    max_binding_bytes: mb.bytes,
    max_binding: { op: mb.op, shape: [...mb.shape] },
    peak_bytes_by_stage: Object.fromEntries(STAGES.map((s) => [s, be.plan.peakByStage.get(s) ?? 0])) as Record<Stage, number>,
    max_binding_by_stage: Object.fromEntries(STAGES.map((s) => {
      const b = be.maxBindingByStage.get(s);
      return [s, { bytes: b?.bytes ?? 0, op: b?.op ?? '', shape: [...(b?.shape ?? [])] }];
    })) as EditPlan['max_binding_by_stage'],
    grow_trims: be.plan.pool.growTrims,
    dispatches: total.dispatches,
    submits: total.submits,
    readbacks: total.readbacks,
    dispatches_per_step: step.dispatches,
    submits_per_step: step.submits,
    readbacks_per_step: step.readbacks,
    bytes_read_per_step: step.bytesRead,
    bytes_written_per_step: step.bytesWritten,
    flops_per_step: step.flops,
  };
}
