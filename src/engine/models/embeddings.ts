// The UNet's timestep conditioning (diffusers embeddings.py): the sinusoidal projection of the (possibly fractional)
// timestep and the two-layer MLP that turns it into the embedding every ResNet block adds.
import type { Tensor } from '../ops/ops.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import { backendOf, Linear } from './layers.ts';

/** diffusers Timesteps: no weights, get_timestep_embedding(t, numChannels, flip_sin_to_cos, downscale_freq_shift). */
export class Timesteps {
  constructor(
    private readonly vb: VarBuilder,
    readonly numChannels: number,
    readonly flipSinToCos: boolean,
    readonly downscaleFreqShift: number,
  ) {}

  /** timesteps [B] -> [B, numChannels]. */
  forward(timesteps: Float32Array): Tensor {
    const be = backendOf(this.vb);
    return be.timestepEmbedding(timesteps, this.numChannels, this.flipSinToCos, this.downscaleFreqShift);
  }
}

/** diffusers TimestepEmbedding with act_fn "silu" and no post activation: linear_1 -> SiLU -> linear_2. */
export class TimestepEmbedding {
  readonly linear_1: Linear;
  readonly linear_2: Linear;

  constructor(
    private readonly vb: VarBuilder,
    readonly inChannels: number,
    readonly timeEmbedDim: number,
  ) {
    this.linear_1 = new Linear(vb.pp('linear_1'), inChannels, timeEmbedDim);
    this.linear_2 = new Linear(vb.pp('linear_2'), timeEmbedDim, timeEmbedDim);
  }

  /** sample [B, inChannels] -> [B, timeEmbedDim]. */
  forward(sample: Tensor): Tensor {
    const be = backendOf(this.vb);
    const h1 = this.linear_1.forward(sample); // [B, D]
    const a = be.silu(h1);
    be.release(h1);
    const out = this.linear_2.forward(a); // [B, D]
    be.release(a);
    return out;
  }
}
