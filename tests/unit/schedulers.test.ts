// Schedulers. Euler-ancestral against diffusers' goldens (tables for 1-100 steps and a 5-step chain with recorded
// noise). Euler, DDIM and DPM++ 2M have no goldens here: they are checked against values this test computes itself
// from the published formulas (Karras et al. 2022 Alg. 1; Song et al. 2021 eq. 12 with eta = 0; Lu et al. 2022
// DPM-Solver++ Alg. 2), in float64.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/engine/ops/cpu/backend.ts';
import { createScheduler } from '../../src/engine/schedulers/index.ts';
import { EulerAncestralDiscreteScheduler } from '../../src/engine/schedulers/scheduling_euler_ancestral_discrete.ts';
import { DDIMScheduler } from '../../src/engine/schedulers/scheduling_ddim.ts';
import { alphasCumprod, betas, baseConfig, trainSigmas } from '../../src/engine/schedulers/scheduling_utils.ts';
import { maxAbsDiff } from '../helpers/compare.ts';
import { golden, goldenScalar } from '../helpers/golden_file.ts';

const config = JSON.parse(readFileSync('models/tiny-ip2p/scheduler/scheduler_config.json', 'utf8'));
const realConfig = JSON.parse(readFileSync('models/instruct-pix2pix/scheduler/scheduler_config.json', 'utf8'));
const F = 'scheduler.safetensors';

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1e-30, Math.abs(b[i])));
  return m;
}

describe('EulerAncestralDiscreteScheduler vs diffusers', () => {
  it('betas, alphas_cumprod and training sigmas match in float32', async () => {
    const c = baseConfig(config, 'linspace');
    const b = betas(c);
    const acp = alphasCumprod(b);
    expect(Array.from(b)).toEqual(Array.from(await golden(F, 'scheduler.betas'))); // bit for bit
    expect(Array.from(acp)).toEqual(Array.from(await golden(F, 'scheduler.alphas_cumprod')));
    const train = Array.from(trainSigmas(acp)).reverse();
    const g = await golden(F, 'scheduler.train_sigmas');
    expect(relErr(train, g.subarray(0, 1000))).toBeLessThanOrEqual(1.2e-7);
    expect(g[1000]).toBe(0);
  });

  for (const n of [1, 2, 3, 5, 10, 20, 25, 50, 100]) {
    it(`set_timesteps(${n}): timesteps and sigmas`, async () => {
      const s = new EulerAncestralDiscreteScheduler(config);
      s.setTimesteps(n);
      expect(maxAbsDiff(s.timesteps, await golden(F, `scheduler.n${n}.timesteps`))).toBeLessThanOrEqual(1e-4);
      expect(relErr(s.sigmas.subarray(0, n), (await golden(F, `scheduler.n${n}.sigmas`)).subarray(0, n))).toBeLessThanOrEqual(2.5e-7);
      expect(s.sigmas[n]).toBe(0);
    });
  }

  it('the 5-step chain: init_noise_sigma, scale_model_input, sigma_up/down and every prev_sample', async () => {
    const be = new CpuBackend();
    const s = new EulerAncestralDiscreteScheduler(config);
    s.setTimesteps(5);
    expect(s.initNoiseSigma).toBe(await goldenScalar(F, 'scheduler.chain.init_noise_sigma'));
    let sample = await golden(F, 'scheduler.chain.sample_0');
    for (let i = 0; i < 5; i++) {
      const p = `scheduler.chain.step${i}`;
      expect(s.timesteps[i]).toBe(await goldenScalar(F, `${p}.timestep`));
      const scaled = sample.map((v) => v * s.inputScale(i));
      expect(maxAbsDiff(scaled, await golden(F, `${p}.scaled_sample`))).toBeLessThanOrEqual(2.5e-7);
      const { sigmaUp, sigmaDown } = s.ancestral(i);
      expect(Math.abs(sigmaUp - (await goldenScalar(F, `${p}.sigma_up`)))).toBeLessThanOrEqual(1e-6 * Math.max(1, sigmaUp));
      expect(Math.abs(sigmaDown - (await goldenScalar(F, `${p}.sigma_down`)))).toBeLessThanOrEqual(1e-6 * Math.max(1, sigmaDown));
      const eps = be.fromArray(await golden(F, `${p}.model_output`), [1, 4, 8, 8]);
      const noise = be.fromArray(await golden(F, `${p}.noise`), [1, 4, 8, 8]);
      const x = be.fromArray(sample, [1, 4, 8, 8]);
      const prev = await be.read(s.step(be, i, eps, x, noise));
      const ref = await golden(F, `${p}.prev_sample`);
      // float32 reassociation only: the reference forms x0 and (x - x0)/sigma; we use eps directly.
      expect(maxAbsDiff(prev, ref)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.max(...ref.map(Math.abs))));
      sample = ref; // continue from the reference so each step is checked on its own
    }
  });
});

// ---- the others, against formulas evaluated here in float64 ------------------------------------------------
function acpF64(): Float64Array {
  const out = new Float64Array(1000);
  let a = 1;
  for (let i = 0; i < 1000; i++) {
    const b = (Math.sqrt(0.00085) + ((Math.sqrt(0.012) - Math.sqrt(0.00085)) * i) / 999) ** 2;
    out[i] = a *= 1 - b;
  }
  return out;
}

function randn(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31 - 0.5;
  });
}

describe('other schedulers vs their published formulas', () => {
  const be = new CpuBackend();
  const n = 16;

  it('Euler (Karras Alg. 1, no churn): x + (sigma_{i+1} - sigma_i) eps, sigmas as Euler-ancestral', async () => {
    const s = createScheduler('euler', realConfig);
    s.setTimesteps(10);
    const ea = new EulerAncestralDiscreteScheduler(realConfig);
    ea.setTimesteps(10);
    expect(Array.from(s.timesteps)).toEqual(Array.from(ea.timesteps));
    const x = randn(n, 1), eps = randn(n, 2);
    for (const i of [0, 4, 9]) {
      const out = await be.read(s.step(be, i, be.fromArray(eps, [n]), be.fromArray(x, [n]), null));
      const dt = ea.sigmas[i + 1] - ea.sigmas[i];
      expect(maxAbsDiff(out, x.map((v, k) => v + dt * eps[k]))).toBeLessThanOrEqual(1e-5);
    }
  });

  it('DDIM (eta 0, leading spacing, set_alpha_to_one false): x_prev from x0 and eps', async () => {
    const s = new DDIMScheduler(realConfig);
    s.setTimesteps(10);
    expect(Array.from(s.timesteps)).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    expect(s.initNoiseSigma).toBe(1);
    const acp = acpF64();
    const x = randn(n, 3), eps = randn(n, 4);
    for (const i of [0, 5, 9]) {
      const t = s.timesteps[i];
      const at = acp[t], prev = t - 100 >= 0 ? acp[t - 100] : acp[0];
      const want = x.map((v, k) => {
        const x0 = (v - Math.sqrt(1 - at) * eps[k]) / Math.sqrt(at);
        return Math.sqrt(prev) * x0 + Math.sqrt(1 - prev) * eps[k];
      });
      const out = await be.read(s.step(be, i, be.fromArray(eps, [n]), be.fromArray(x, [n])));
      expect(maxAbsDiff(out, want)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('DPM++ 2M: first-order first step, second-order (Lu et al. Alg. 2) after, x0 at sigma 0', async () => {
    const s = createScheduler('dpm++2m', realConfig);
    s.setTimesteps(5);
    // np.linspace(0, 999, 6).round() = [0, 200, 400, 599, 799, 999] (599.4 and 799.2 round down)
    expect(Array.from(s.timesteps)).toEqual([999, 799, 599, 400, 200]);
    const acp = acpF64();
    const sig = (t: number) => Math.sqrt((1 - acp[t]) / acp[t]);
    const sigmas = [...Array.from(s.timesteps, sig), 0];
    const al = (sg: number) => 1 / Math.sqrt(sg * sg + 1);
    const lam = (sg: number) => Math.log(al(sg)) - Math.log(sg * al(sg));
    let x = randn(n, 5);
    let xr: Float64Array<ArrayBufferLike> = Float64Array.from(x);
    let prevX0: Float64Array<ArrayBufferLike> | null = null;
    for (let i = 0; i < 5; i++) {
      const eps = randn(n, 10 + i);
      const out = await be.read(s.step(be, i, be.fromArray(eps, [n]), be.fromArray(x, [n]), null));
      const sg = sigmas[i], sn = sigmas[i + 1];
      const x0 = xr.map((v, k) => (v - sg * al(sg) * eps[k]) / al(sg));
      let want: Float64Array<ArrayBufferLike>;
      if (sn === 0) want = x0;
      else {
        const h = lam(sn) - lam(sg);
        const D = prevX0 && i < 4
          ? x0.map((v, k) => { const r = (lam(sg) - lam(sigmas[i - 1])) / h; return (1 + 1 / (2 * r)) * v - (1 / (2 * r)) * prevX0![k]; })
          : x0;
        want = xr.map((v, k) => ((sn * al(sn)) / (sg * al(sg))) * v - al(sn) * (Math.exp(-h) - 1) * D[k]);
      }
      expect(maxAbsDiff(out, want), `step ${i}`).toBeLessThanOrEqual(1e-4 * Math.max(1, ...want.map(Math.abs)));
      prevX0 = x0;
      xr = want;
      x = Float32Array.from(want);
    }
  });
});
