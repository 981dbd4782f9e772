// EulerAncestralDiscreteScheduler as diffusers 0.30: sigma schedule interpolated at float timesteps, x scaled by
// 1/sqrt(sigma^2+1) before the UNet, and an ancestral step that adds fresh noise on every step (also the last,
// where sigma_up = 0).
import type { Backend, Tensor } from '../ops/ops.ts';
import {
  alphasCumprod,
  baseConfig,
  betas,
  interpIndex,
  linearCombination,
  npLinspace,
  roundHalfEven,
  trainSigmas,
  type BaseConfig,
  type Scheduler,
  type SchedulerConfigJson,
} from './scheduling_utils.ts';

const f = Math.fround;

/** Timesteps and sigmas of the Euler family (float32 timesteps, sigmas + trailing 0). */
export function eulerSchedule(c: BaseConfig, n: number): { timesteps: Float32Array; sigmas: Float32Array } {
  const N = c.numTrainTimesteps;
  let ts: Float64Array;
  if (c.timestepSpacing === 'linspace') {
    // np.linspace(0, N - 1, n, dtype=float32)[::-1]
    ts = npLinspace(0, N - 1, n).map((v) => f(v)).reverse();
  } else if (c.timestepSpacing === 'leading') {
    const ratio = Math.floor(N / n);
    ts = Float64Array.from({ length: n }, (_, i) => f(roundHalfEven(i * ratio)) + c.stepsOffset).reverse();
  } else {
    const ratio = N / n;
    const vals: number[] = [];
    for (let v = N; v > 0; v -= ratio) vals.push(f(roundHalfEven(v)) - 1);
    ts = Float64Array.from(vals.slice(0, n));
  }
  const train = trainSigmas(alphasCumprod(betas(c)));
  const sigmas = new Float32Array(n + 1);
  ts.forEach((t, i) => (sigmas[i] = interpIndex(t, train)));
  sigmas[n] = 0;
  return { timesteps: Float32Array.from(ts), sigmas };
}

export class EulerAncestralDiscreteScheduler implements Scheduler {
  readonly name: string = 'euler-ancestral';
  readonly config: BaseConfig;
  timesteps: Float32Array = new Float32Array(0);
  sigmas: Float32Array = new Float32Array(0);

  constructor(json: SchedulerConfigJson = {}) {
    this.config = baseConfig(json, 'linspace');
  }

  setTimesteps(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.config.numTrainTimesteps) {
      throw new Error(`steps must be an integer from 1 to ${this.config.numTrainTimesteps}, got ${n}`);
    }
    ({ timesteps: this.timesteps, sigmas: this.sigmas } = eulerSchedule(this.config, n));
  }

  get initNoiseSigma(): number {
    const max = this.sigmas.reduce((m, v) => Math.max(m, v), 0);
    return this.config.timestepSpacing === 'leading' ? f(Math.sqrt(f(f(max * max) + 1))) : max;
  }

  inputScale(i: number): number {
    const s = this.sigmas[i];
    return 1 / f(Math.sqrt(f(f(s * s) + 1)));
  }

  /** sigma_up and sigma_down of step i, in float32 as the reference computes them. */
  ancestral(i: number): { sigmaUp: number; sigmaDown: number } {
    const from = this.sigmas[i];
    const to = this.sigmas[i + 1];
    const sigmaUp = f(Math.sqrt(f(f(f(to * to) * f(f(from * from) - f(to * to))) / f(from * from))));
    const sigmaDown = f(Math.sqrt(f(f(to * to) - f(sigmaUp * sigmaUp))));
    return { sigmaUp, sigmaDown };
  }

  usesNoise(): boolean {
    return true;
  }

  step(be: Backend, i: number, eps: Tensor, x: Tensor, noise: Tensor | null): Tensor {
    // 1. x0 = x - sigma * eps; derivative = (x - x0) / sigma = eps (algebraically; computed directly)
    // 2. prev = x + derivative * (sigma_down - sigma) + noise * sigma_up
    const sigma = this.sigmas[i];
    const { sigmaUp, sigmaDown } = this.ancestral(i);
    if (sigmaUp !== 0 && !noise) throw new Error('euler-ancestral: step needs noise');
    return linearCombination(be, [
      [x, 1],
      [eps, f(sigmaDown - sigma)],
      [noise, sigmaUp],
    ]);
  }

  reset(): void {}
}
