// Shared scheduler math, reproducing diffusers' float32 arithmetic step by step (Math.fround after each operation
// where PyTorch/numpy compute in float32): beta schedules, alphas_cumprod, timestep spacings, sigma interpolation.
import type { Backend, LincombTerm, Tensor } from '../ops/ops.ts';

const f = Math.fround;

export type TimestepSpacing = 'linspace' | 'leading' | 'trailing';

/** The scheduler_config.json keys the schedulers read; absent keys take each scheduler class's own defaults. */
export interface SchedulerConfigJson {
  _class_name?: string;
  num_train_timesteps?: number;
  beta_start?: number;
  beta_end?: number;
  beta_schedule?: string;
  trained_betas?: number[] | null;
  prediction_type?: string;
  timestep_spacing?: string;
  steps_offset?: number;
  clip_sample?: boolean;
  clip_sample_range?: number;
  set_alpha_to_one?: boolean;
  solver_order?: number;
  algorithm_type?: string;
  solver_type?: string;
  lower_order_final?: boolean;
  final_sigmas_type?: string;
  use_karras_sigmas?: boolean;
  rescale_betas_zero_snr?: boolean;
  [k: string]: unknown;
}

export interface BaseConfig {
  numTrainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  trainedBetas: number[] | null;
  timestepSpacing: TimestepSpacing;
  stepsOffset: number;
}

export function baseConfig(json: SchedulerConfigJson, defaultSpacing: TimestepSpacing): BaseConfig {
  const schedule = json.beta_schedule ?? 'linear';
  if (schedule !== 'scaled_linear' && schedule !== 'linear') {
    throw new Error(`scheduler: beta_schedule '${schedule}' is not supported (scaled_linear, linear)`);
  }
  if ((json.prediction_type ?? 'epsilon') !== 'epsilon') {
    throw new Error(`scheduler: prediction_type '${json.prediction_type}' is not supported (epsilon)`);
  }
  if (json.rescale_betas_zero_snr) throw new Error('scheduler: rescale_betas_zero_snr is not supported');
  if (json.use_karras_sigmas) throw new Error('scheduler: use_karras_sigmas is not supported');
  const spacing = (json.timestep_spacing ?? defaultSpacing) as TimestepSpacing;
  if (!['linspace', 'leading', 'trailing'].includes(spacing)) {
    throw new Error(`scheduler: timestep_spacing '${spacing}' is not supported (linspace, leading, trailing)`);
  }
  return {
    numTrainTimesteps: json.num_train_timesteps ?? 1000,
    betaStart: json.beta_start ?? 0.0001,
    betaEnd: json.beta_end ?? 0.02,
    betaSchedule: schedule,
    trainedBetas: json.trained_betas ?? null,
    timestepSpacing: spacing,
    stepsOffset: json.steps_offset ?? 0,
  };
}

/**
 * torch.linspace(start, end, steps, dtype=float32) bit for bit as PyTorch's x86 CPU kernel computes it: the
 * two-sided formula (start + step*i below the midpoint, end - step*(steps-1-i) above), evaluated 8 lanes at a time
 * (AVX2) as base + j*step from a base formed with a fused multiply-add, and the tail (< 16 values) one by one.
 * Checked against diffusers' betas: 1000 of 1000 equal.
 */
export function torchLinspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = f(start);
    return out;
  }
  const s = f(start);
  const e = f(end);
  const step = f(f(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  // step * i is exact in float64 (24-bit times < 2^29), so f(s + step * i) is a fused multiply-add.
  const at = (i: number) => (i < half ? f(s + step * i) : f(e - step * (steps - i - 1)));
  const VEC = 8;
  let i = 0;
  for (; i <= steps - 2 * VEC; i += VEC) {
    const base = at(i);
    for (let j = 0; j < VEC; j++) out[i + j] = f(base + f(j * step));
  }
  for (; i < steps; i++) out[i] = at(i);
  return out;
}

export function betas(c: BaseConfig): Float32Array {
  if (c.trainedBetas) return Float32Array.from(c.trainedBetas);
  if (c.betaSchedule === 'linear') return torchLinspaceF32(c.betaStart, c.betaEnd, c.numTrainTimesteps);
  const r = torchLinspaceF32(Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd), c.numTrainTimesteps);
  return r.map((v) => f(v * v));
}

/** torch.cumprod(1 - betas) in float32: PyTorch's CPU kernel accumulates the product in double. */
export function alphasCumprod(b: Float32Array): Float32Array {
  const out = new Float32Array(b.length);
  let acc = 1;
  for (let i = 0; i < b.length; i++) out[i] = acc *= f(1 - b[i]);
  return out;
}

/** ((1 - acp) / acp) ** 0.5 in float32. */
export function trainSigmas(acp: Float32Array): Float32Array {
  return acp.map((a) => f(Math.sqrt(f(f(1 - a) / a))));
}

/** np.linspace(start, stop, n) in float64 (numpy's formula: start + i * step, last = stop). */
export function npLinspace(start: number, stop: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  out[n - 1] = stop;
  return out;
}

/** Round half to even, as numpy's round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** np.interp(x, arange(len(fp)), fp) in float64. */
export function interpIndex(x: number, fp: ArrayLike<number>): number {
  if (x <= 0) return fp[0];
  if (x >= fp.length - 1) return fp[fp.length - 1];
  const i = Math.floor(x);
  const t = x - i;
  return fp[i] + (fp[i + 1] - fp[i]) * t;
}

/**
 * A new f32 tensor sum_i coef_i * xs_i (terms with coefficient 0 or a null tensor are skipped): one lincomb
 * dispatch for up to 4 terms, rounded term by term in order like the scale-then-add chain diffusers runs.
 */
export function linearCombination(be: Backend, terms: readonly (readonly [Tensor | null, number])[]): Tensor {
  const live: LincombTerm[] = [];
  for (const [t, coef] of terms) if (t && coef !== 0) live.push({ t, coef });
  if (!live.length) throw new Error('linearCombination: no terms');
  let acc = be.lincomb(live.slice(0, 4));
  for (let i = 4; i < live.length; i += 3) {
    const next = be.lincomb([{ t: acc, coef: 1 }, ...live.slice(i, i + 3)]);
    be.release(acc);
    acc = next;
  }
  return acc;
}

/** What every scheduler offers the pipeline. */
export interface Scheduler {
  readonly name: string;
  setTimesteps(n: number): void;
  /** Timesteps fed to the UNet, in order (float32 values; may be fractional). */
  readonly timesteps: Float32Array;
  /** Multiplies the N(0, 1) initial latents. */
  readonly initNoiseSigma: number;
  /** scale_model_input(x, t_i) = x * inputScale(i). */
  inputScale(i: number): number;
  /** Whether step i adds fresh noise (ancestral): the pipeline then passes a noise tensor of the sample's shape. */
  usesNoise(i: number): boolean;
  /** One step from x_t to x_{t-1}; returns a new tensor (inputs are not released). */
  step(be: Backend, i: number, modelOutput: Tensor, sample: Tensor, noise: Tensor | null): Tensor;
  /** Drops multistep state between runs. */
  reset(): void;
}
