// DPMSolverMultistepScheduler as diffusers 0.30, the "DPM++ 2M" configuration: algorithm dpmsolver++, solver order
// 2, midpoint, data prediction x0 = (x - sigma_t eps) / alpha_t, first order on the first step and (final sigma 0)
// on the last. Integer timesteps from np.linspace(0, N-1, n+1).round()[::-1][:-1]; no input scaling.
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

/** alpha_t = 1 / sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t, lambda = log(alpha_t) - log(sigma_t). */
function alphaSigma(sigma: number): { alpha: number; sigmaT: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const sigmaT = sigma * alpha;
  return { alpha, sigmaT, lambda: Math.log(alpha) - Math.log(sigmaT) };
}

export class DPMSolverMultistepScheduler implements Scheduler {
  readonly name = 'dpm++2m';
  readonly config: BaseConfig;
  readonly order: number;
  timesteps: Float32Array = new Float32Array(0);
  sigmas: Float32Array = new Float32Array(0);
  readonly initNoiseSigma = 1;
  private x0s: Tensor[] = [];
  private be: Backend | null = null;

  constructor(json: SchedulerConfigJson = {}) {
    this.config = baseConfig(json, 'linspace');
    const algo = json.algorithm_type ?? 'dpmsolver++';
    if (algo !== 'dpmsolver++') throw new Error(`dpm++2m: algorithm_type '${algo}' is not supported (dpmsolver++)`);
    if ((json.solver_type ?? 'midpoint') !== 'midpoint') throw new Error(`dpm++2m: solver_type must be midpoint`);
    this.order = Math.min(2, json.solver_order ?? 2);
  }

  setTimesteps(n: number): void {
    const N = this.config.numTrainTimesteps;
    if (!Number.isInteger(n) || n < 1 || n > N) throw new Error(`steps must be an integer from 1 to ${N}, got ${n}`);
    let ts: number[];
    if (this.config.timestepSpacing === 'linspace') {
      ts = Array.from(npLinspace(0, N - 1, n + 1), roundHalfEven).reverse().slice(0, n);
    } else if (this.config.timestepSpacing === 'leading') {
      const ratio = Math.floor(N / (n + 1));
      ts = Array.from({ length: n + 1 }, (_, i) => i * ratio + this.config.stepsOffset).reverse().slice(0, n);
    } else {
      const ratio = N / n;
      ts = [];
      for (let v = N; v > 0 && ts.length < n; v -= ratio) ts.push(roundHalfEven(v) - 1);
    }
    const train = trainSigmas(alphasCumprod(betas(this.config)));
    this.timesteps = Float32Array.from(ts);
    this.sigmas = new Float32Array(n + 1);
    ts.forEach((t, i) => (this.sigmas[i] = interpIndex(t, train)));
    this.sigmas[n] = 0;
    this.reset();
  }

  inputScale(): number {
    return 1;
  }

  usesNoise(): boolean {
    return false;
  }

  step(be: Backend, i: number, eps: Tensor, x: Tensor): Tensor {
    this.be = be;
    const s0 = alphaSigma(this.sigmas[i]);
    // 1. data prediction x0 = (x - sigma_t eps) / alpha_t
    const x0 = linearCombination(be, [
      [x, 1 / s0.alpha],
      [eps, -s0.sigmaT / s0.alpha],
    ]);
    this.x0s.push(x0);
    const last = i === this.timesteps.length - 1;
    const sigmaNext = this.sigmas[i + 1];
    let out: Tensor;
    if (sigmaNext === 0) {
      // 2a. final step to sigma 0: the first-order update reduces to x0
      out = be.lincomb([{ t: x0, coef: 1 }]); // an f32 copy
    } else {
      const t = alphaSigma(sigmaNext);
      const h = t.lambda - s0.lambda;
      const em1 = Math.expm1(-h); // exp(-h) - 1
      if (this.order === 1 || this.x0s.length < 2 || last) {
        // 2b. first order: x_t = (sigma_t / sigma_s) x - alpha_t (exp(-h) - 1) x0
        out = linearCombination(be, [
          [x, t.sigmaT / s0.sigmaT],
          [x0, -t.alpha * em1],
        ]);
      } else {
        // 2c. second order (midpoint): D0 = m0, D1 = (m0 - m1) / r0, r0 = h_prev / h
        const s1 = alphaSigma(this.sigmas[i - 1]);
        const r0 = (s0.lambda - s1.lambda) / h;
        const m1 = this.x0s[this.x0s.length - 2];
        const c = -0.5 * t.alpha * em1 / r0;
        out = linearCombination(be, [
          [x, t.sigmaT / s0.sigmaT],
          [x0, -t.alpha * em1 + c],
          [m1, -c],
        ]);
      }
    }
    while (this.x0s.length > 2) be.release(this.x0s.shift()!);
    return out;
  }

  reset(): void {
    if (this.be) for (const t of this.x0s) this.be.release(t);
    this.x0s = [];
  }
}
