// DDIMScheduler as diffusers 0.30 with eta = 0 (deterministic): integer timesteps ("leading" spacing by default),
// prev_t = t - N / n, x0 = (x - sqrt(1 - a_t) eps) / sqrt(a_t) (clipped when clip_sample), then
// prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps. Inputs are not scaled and the initial noise sigma is 1.
import type { Backend, Tensor } from '../ops/ops.ts';
import {
  alphasCumprod,
  baseConfig,
  betas,
  linearCombination,
  npLinspace,
  roundHalfEven,
  type BaseConfig,
  type Scheduler,
  type SchedulerConfigJson,
} from './scheduling_utils.ts';

export class DDIMScheduler implements Scheduler {
  readonly name = 'ddim';
  readonly config: BaseConfig;
  readonly acp: Float32Array;
  readonly finalAlphaCumprod: number;
  readonly clipSample: boolean;
  readonly clipRange: number;
  timesteps: Float32Array = new Float32Array(0);
  readonly initNoiseSigma = 1;

  constructor(json: SchedulerConfigJson = {}) {
    this.config = baseConfig(json, 'leading');
    this.acp = alphasCumprod(betas(this.config));
    this.finalAlphaCumprod = (json.set_alpha_to_one ?? true) ? 1 : this.acp[0];
    this.clipSample = json.clip_sample ?? true;
    this.clipRange = json.clip_sample_range ?? 1;
  }

  setTimesteps(n: number): void {
    const N = this.config.numTrainTimesteps;
    if (!Number.isInteger(n) || n < 1 || n > N) throw new Error(`steps must be an integer from 1 to ${N}, got ${n}`);
    let ts: number[];
    if (this.config.timestepSpacing === 'linspace') {
      ts = Array.from(npLinspace(0, N - 1, n), roundHalfEven).reverse();
    } else if (this.config.timestepSpacing === 'leading') {
      const ratio = Math.floor(N / n);
      ts = Array.from({ length: n }, (_, i) => i * ratio + this.config.stepsOffset).reverse();
    } else {
      const ratio = N / n;
      ts = [];
      for (let v = N; v > 0 && ts.length < n; v -= ratio) ts.push(roundHalfEven(v) - 1);
    }
    this.timesteps = Float32Array.from(ts);
  }

  inputScale(): number {
    return 1;
  }

  usesNoise(): boolean {
    return false;
  }

  /** alpha_prod at t and at the previous timestep (t - N/n), as diffusers indexes them. */
  alphas(i: number): { at: number; prev: number } {
    const t = this.timesteps[i];
    const prevT = t - Math.floor(this.config.numTrainTimesteps / this.timesteps.length);
    return { at: this.acp[t], prev: prevT >= 0 ? this.acp[prevT] : this.finalAlphaCumprod };
  }

  step(be: Backend, i: number, eps: Tensor, x: Tensor): Tensor {
    const { at, prev } = this.alphas(i);
    // 1. x0 = (x - sqrt(1 - a_t) eps) / sqrt(a_t)
    let x0 = linearCombination(be, [
      [x, 1 / Math.sqrt(at)],
      [eps, -Math.sqrt(1 - at) / Math.sqrt(at)],
    ]);
    if (this.clipSample) {
      const clipped = be.clamp(x0, -this.clipRange, this.clipRange);
      be.release(x0);
      x0 = clipped;
    }
    // 2. prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps (eta = 0: no noise)
    const out = linearCombination(be, [
      [x0, Math.sqrt(prev)],
      [eps, Math.sqrt(1 - prev)],
    ]);
    be.release(x0);
    return out;
  }

  reset(): void {}
}
