// EulerDiscreteScheduler as diffusers 0.30 with its defaults (s_churn 0: no noise is added): the same sigma
// schedule and input scaling as Euler-ancestral, and a plain Euler step x + eps * (sigma_{i+1} - sigma_i).
import type { Backend, Tensor } from '../ops/ops.ts';
import { EulerAncestralDiscreteScheduler } from './scheduling_euler_ancestral_discrete.ts';
import { linearCombination } from './scheduling_utils.ts';

export class EulerDiscreteScheduler extends EulerAncestralDiscreteScheduler {
  override readonly name: string = 'euler';

  override usesNoise(): boolean {
    return false;
  }

  override step(be: Backend, i: number, eps: Tensor, x: Tensor): Tensor {
    const dt = Math.fround(this.sigmas[i + 1] - this.sigmas[i]);
    return linearCombination(be, [
      [x, 1],
      [eps, dt],
    ]);
  }
}
