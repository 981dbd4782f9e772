// UNet2DConditionModel against the diffusers goldens of the tiny fixture model (models/tiny-ip2p/golden/
// unet.safetensors): every named intermediate at t=999, the noise prediction at three timesteps (one fractional),
// with the fp16 weight files, and a batch of 3. The same cases run on the CPU reference and on WebGPU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../../src/engine/ops/ops.ts';
import type { UNet2DConditionModel } from '../../src/engine/models/unet_2d_condition.ts';
import { expectClose } from '../helpers/compare.ts';
import { golden, goldenShape } from '../helpers/golden_file.ts';
import { testBackend } from '../helpers/gpu.ts';
import { buildTinyUNet, releaseCheckedCpu } from '../helpers/unet_golden.ts';

const FILE = 'unet.safetensors';
const INTERMEDIATES = [
  'time_proj',
  'time_embedding',
  'conv_in',
  'down_blocks.0',
  'down_blocks.1',
  'mid_block',
  'up_blocks.0',
  'up_blocks.1',
  'conv_norm_out',
];

async function input(be: Backend, key: string): Promise<Tensor> {
  return be.fromArray(await golden(FILE, key), goldenShape(FILE, key));
}

/** The golden timestep (a scalar) repeated over the batch. */
async function timesteps(key: string, batch: number): Promise<Float32Array> {
  const t = await golden(FILE, key);
  expect(t.length).toBe(1);
  return new Float32Array(batch).fill(t[0]);
}

async function readAndRelease(be: Backend, t: Tensor): Promise<Float32Array> {
  const v = await be.read(t);
  be.release(t);
  return v;
}

const BACKENDS: { name: string; make: () => Promise<Backend> }[] = [
  { name: 'cpu', make: async () => releaseCheckedCpu() },
  { name: 'webgpu', make: () => testBackend() },
];

describe.each(BACKENDS)('UNet2DConditionModel vs diffusers goldens on $name', ({ make }) => {
  let be: Backend;
  let unet: UNet2DConditionModel;
  let sample: Tensor;
  let ehs: Tensor;

  beforeAll(async () => {
    be = await make();
    unet = await buildTinyUNet(be, 'fp32'); // throws on any missing, misshaped or unused weight
    sample = await input(be, 'unet.sample');
    ehs = await input(be, 'unet.encoder_hidden_states');
  });
  afterAll(() => {
    if (!be) return;
    if (sample) be.release(sample);
    if (ehs) be.release(ehs);
  });

  it('t0 = 999: every named intermediate and the noise prediction', async () => {
    const captured = new Map<string, Tensor>();
    const out = unet.forward(sample, await timesteps('unet.t0.timestep', 1), ehs, {
      capture: (name, t) => {
        expect(captured.has(name), `captured ${name} twice`).toBe(false);
        captured.set(name, t);
      },
    });
    expect([...captured.keys()]).toEqual(INTERMEDIATES);
    for (const name of INTERMEDIATES) {
      const key = `unet.t0.${name}`;
      const t = captured.get(name)!;
      expect(t.shape, name).toEqual(goldenShape(FILE, key));
      const d = expectClose(key, await readAndRelease(be, t), await golden(FILE, key));
      console.log(`[${be.name}] ${key}: max|d| ${d.toExponential(2)}`);
    }
    expect(out.shape).toEqual(goldenShape(FILE, 'unet.t0.noise_pred'));
    const d = expectClose('unet.t0.noise_pred', await readAndRelease(be, out), await golden(FILE, 'unet.t0.noise_pred'));
    console.log(`[${be.name}] unet.t0.noise_pred: max|d| ${d.toExponential(2)}`);
  });

  it.each(['t1', 't2'])('%s (749.25 fractional, 1.0): noise prediction without capture', async (k) => {
    const out = unet.forward(sample, await timesteps(`unet.${k}.timestep`, 1), ehs);
    const key = `unet.${k}.noise_pred`;
    expect(out.shape).toEqual(goldenShape(FILE, key));
    const d = expectClose(key, await readAndRelease(be, out), await golden(FILE, key));
    console.log(`[${be.name}] ${key}: max|d| ${d.toExponential(2)}`);
  });

  it('the fp16 weight files (f16 storage on this backend), t0..t2', async () => {
    const unet16 = await buildTinyUNet(be, 'fp16');
    expect(unet16.conv_in.weight.dtype).toBe('f16');
    for (const k of ['t0', 't1', 't2']) {
      const out = unet16.forward(sample, await timesteps(`unet.${k}.timestep`, 1), ehs);
      const key = `unet.${k}.noise_pred_fp16w`;
      const d = expectClose(key, await readAndRelease(be, out), await golden(FILE, key));
      console.log(`[${be.name}] ${key}: max|d| ${d.toExponential(2)}`);
    }
  });

  it('a batch of 3 distinct inputs at t = 499.5 (one timestep broadcast to the batch)', async () => {
    const s3 = await input(be, 'unet.batch3.sample');
    const e3 = await input(be, 'unet.batch3.encoder_hidden_states');
    const t = await golden(FILE, 'unet.batch3.timestep');
    const out = unet.forward(s3, t, e3);
    expect(out.shape).toEqual(goldenShape(FILE, 'unet.batch3.noise_pred'));
    const d = expectClose('unet.batch3.noise_pred', await readAndRelease(be, out), await golden(FILE, 'unet.batch3.noise_pred'));
    console.log(`[${be.name}] unet.batch3.noise_pred: max|d| ${d.toExponential(2)}`);
    // the inputs are the caller's: still intact after forward
    expectClose('batch3.sample kept', await be.read(s3), await golden(FILE, 'unet.batch3.sample'), 0);
    be.release(s3);
    be.release(e3);
  });

  it('latents not divisible by 2**num_upsamplers (7x5, 6x9): up-samples to the skip size', async () => {
    expect(unet.numUpsamplers).toBe(1);
    const e = await golden(FILE, 'unet.encoder_hidden_states');
    for (const [h, w] of [
      [7, 5],
      [6, 9],
    ]) {
      const x = be.fromArray(Float32Array.from({ length: 8 * h * w }, (_, i) => Math.sin(i * 0.37)), [1, 8, h, w]);
      const cond = be.fromArray(e, [1, 77, 32]);
      const out = unet.forward(x, new Float32Array([499.5]), cond);
      expect(out.shape).toEqual([1, 4, h, w]);
      const v = await readAndRelease(be, out);
      expect(v.every(Number.isFinite)).toBe(true);
      be.release(x);
      be.release(cond);
    }
  });
});

describe('UNet2DConditionModel memory discipline (CPU, release-checked)', () => {
  it('forward frees every intermediate: only the output stays alive', async () => {
    const be = releaseCheckedCpu();
    const unet = await buildTinyUNet(be, 'fp32');
    const sample = await input(be, 'unet.sample');
    const ehs = await input(be, 'unet.encoder_hidden_states');
    const before = be.liveTensors();
    const out = unet.forward(sample, await timesteps('unet.t0.timestep', 1), ehs);
    expect(be.liveTensors()).toBe(before + 1);
    be.release(out);
    // a second call on the same model still matches: nothing it holds (weights) was released
    const again = unet.forward(sample, await timesteps('unet.t0.timestep', 1), ehs);
    expectClose('t0 again', await readAndRelease(be, again), await golden(FILE, 'unet.t0.noise_pred'));
  });

  it('the CPU and WebGPU backends agree on a 7x5 latent (no golden for odd sizes)', async () => {
    const results: Float32Array[] = [];
    for (const be of [releaseCheckedCpu() as Backend, await testBackend()]) {
      const unet = await buildTinyUNet(be, 'fp32');
      const x = be.fromArray(Float32Array.from({ length: 8 * 35 }, (_, i) => Math.cos(i * 0.21)), [1, 8, 7, 5]);
      const cond = await input(be, 'unet.encoder_hidden_states');
      results.push(await readAndRelease(be, unet.forward(x, new Float32Array([749.25]), cond)));
    }
    expectClose('webgpu vs cpu, 7x5', results[1], results[0]);
  });
});
