// AutoencoderKL against the diffusers goldens of the tiny fixture model (models/tiny-ip2p/golden/vae.safetensors):
// every named encoder and decoder intermediate, the latent distribution (moments, mean, clamped logvar, std, mode),
// the decoded image and the reconstruction of the input, then the fp16 weight file against the same fp32 goldens
// at a looser bar. The same cases run on the CPU reference (release discipline checked) and on WebGPU. On CPU
// only: the legacy attention names of old VAE files, and configs without mid-block attention or quant convs.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../../src/engine/ops/ops.ts';
import { AutoencoderKL } from '../../src/engine/models/autoencoder_kl.ts';
import { parseVaeConfig } from '../../src/engine/models/configs.ts';
import { HostWeightSource, loadTensorFile, mapLegacyVaeNames, nodeFolderSource } from '../../src/engine/weights/diffusers.ts';
import type { HostTensor } from '../../src/engine/weights/safetensors.ts';
import { VarBuilder } from '../../src/engine/weights/var_builder.ts';
import { expectClose } from '../helpers/compare.ts';
import { golden, goldenShape } from '../helpers/golden_file.ts';
import { buildTinyVae, readConfig, TINY_DIR } from '../helpers/golden.ts';
import { testBackend } from '../helpers/gpu.ts';
import { releaseCheckedCpu, type CheckedBackend } from '../helpers/unet_golden.ts';

const FILE = 'vae.safetensors';
/** fp16 weight file vs the fp32 goldens (weight rounding, not compute, sets this). */
const FP16_REL = 1e-2;
const N_BLOCKS = 4;
const ENC = ['encoder.conv_in', ...[0, 1, 2, 3].map((i) => `encoder.down_blocks.${i}`), 'encoder.mid_block',
  'encoder.conv_norm_out', 'encoder.conv_out', 'quant_conv'];
const DEC = ['post_quant_conv', 'decoder.conv_in', 'decoder.mid_block', ...[0, 1, 2, 3].map((i) => `decoder.up_blocks.${i}`),
  'decoder.conv_norm_out'];

async function input(be: Backend, key: string): Promise<Tensor> {
  return be.fromArray(await golden(FILE, key), goldenShape(FILE, key));
}

async function readAndRelease(be: Backend, t: Tensor): Promise<Float32Array> {
  const v = await be.read(t);
  be.release(t);
  return v;
}

async function check(be: Backend, tag: string, key: string, t: Tensor, rel = 1e-3, release = true): Promise<void> {
  expect(t.shape, key).toEqual(goldenShape(FILE, key));
  const ours = release ? await readAndRelease(be, t) : await be.read(t);
  const d = expectClose(key, ours, await golden(FILE, key), rel);
  console.log(`[${tag}] ${key}: max|d| ${d.toExponential(2)}`);
}

const BACKENDS: { name: string; make: () => Promise<Backend> }[] = [
  { name: 'cpu', make: async () => releaseCheckedCpu() },
  { name: 'webgpu', make: () => testBackend() },
];

describe.each(BACKENDS)('AutoencoderKL vs diffusers goldens on $name', ({ name, make }) => {
  let be: Backend;
  let vae: AutoencoderKL;

  beforeAll(async () => {
    be = await make();
    vae = await buildTinyVae(be, 'fp32');
    expect(vae.encoder.down_blocks.length).toBe(N_BLOCKS);
  });

  it('encode: encoder intermediates, quant_conv, moments, mean, logvar, std, mode; then reconstruction', async () => {
    const x = await input(be, 'vae.input');
    const live = name === 'cpu' ? (be as CheckedBackend).liveTensors() : 0;
    const seen: string[] = [];
    const captured = new Map<string, Tensor>();
    const dist = vae.encode(x, { capture: (n, t) => (seen.push(n), captured.set(n, t)) });
    expect(seen).toEqual(ENC);
    for (const n of ENC) await check(be, name, `vae.enc.${n}`, captured.get(n)!);
    await check(be, name, 'vae.enc.moments', dist.moments, 1e-3, false);
    await check(be, name, 'vae.enc.mean', dist.mean, 1e-3, false);
    await check(be, name, 'vae.enc.logvar', dist.logvar, 1e-3, false);
    await check(be, name, 'vae.enc.std', dist.std, 1e-3, false);
    await check(be, name, 'vae.enc.mode', dist.mode(), 1e-3, false);
    // the reconstruction decodes our own mode: encoder and decoder errors compound here
    const rec = vae.decode(dist.mode());
    dist.release();
    await check(be, name, 'vae.dec.reconstruction', rec);
    if (name === 'cpu') expect((be as CheckedBackend).liveTensors()).toBe(live); // nothing leaked
    const again = await be.read(x); // the caller's input is neither released nor changed
    expect(again).toEqual(await golden(FILE, 'vae.input'));
    be.release(x);
  });

  it('decode: post_quant_conv, decoder intermediates and the raw output (no scaling factor inside)', async () => {
    const z = await input(be, 'vae.dec.input_latent');
    const live = name === 'cpu' ? (be as CheckedBackend).liveTensors() : 0;
    const seen: string[] = [];
    const captured = new Map<string, Tensor>();
    const out = vae.decode(z, { capture: (n, t) => (seen.push(n), captured.set(n, t)) });
    expect(seen).toEqual(DEC);
    for (const n of DEC) await check(be, name, `vae.dec.${n}`, captured.get(n)!);
    await check(be, name, 'vae.dec.output', out);
    if (name === 'cpu') expect((be as CheckedBackend).liveTensors()).toBe(live);
    be.release(z);
  });

  it(`fp16 weight file: mean, std and decoded image within ${FP16_REL} x max(1, std) of the fp32 goldens`, async () => {
    const vae16 = await buildTinyVae(be, 'fp16');
    expect(vae16.decoder.conv_out.weight.dtype).toBe('f16');
    const x = await input(be, 'vae.input');
    const dist = vae16.encode(x);
    await check(be, `${name} fp16w`, 'vae.enc.mean', dist.mean, FP16_REL, false);
    await check(be, `${name} fp16w`, 'vae.enc.std', dist.std, FP16_REL, false);
    dist.release();
    be.release(x);
    const z = await input(be, 'vae.dec.input_latent');
    await check(be, `${name} fp16w`, 'vae.dec.output', vae16.decode(z), FP16_REL);
    be.release(z);
  });

  it('non-square and non-multiple-of-8 sizes: shapes follow PyTorch conv arithmetic', async () => {
    // encoder downsamplers: pad (0,1) then 3x3 stride 2 -> floor((n - 2) / 2) + 1: 60 -> 30 -> 15 -> 7, 48 -> 6
    const x = be.fromArray(new Float32Array(3 * 60 * 48).fill(0.25), [1, 3, 60, 48]);
    const dist = vae.encode(x);
    expect(dist.mean.shape).toEqual([1, 4, 7, 6]);
    const img = vae.decode(dist.mode()); // 3 x2 upsamplers: 7 -> 56, 6 -> 48
    expect(img.shape).toEqual([1, 3, 56, 48]);
    const v = await readAndRelease(be, img);
    expect(v.every(Number.isFinite)).toBe(true);
    dist.release();
    be.release(x);
  });
});

/** The tiny VAE file with some keys renamed or dropped. */
async function patchedVaeWeights(edit: (m: Map<string, HostTensor>) => Map<string, HostTensor>): Promise<HostWeightSource> {
  const src = await loadTensorFile(nodeFolderSource(TINY_DIR), 'vae/diffusion_pytorch_model.safetensors');
  return new HostWeightSource('patched vae', edit(new Map(src.keys().map((k) => [k, src.tensor(k)]))));
}

describe('AutoencoderKL variants on cpu', () => {
  it('legacy attention names (query/key/value/proj_attn, 1x1-conv shaped) map onto to_q/to_k/to_v/to_out.0', async () => {
    const legacy = await patchedVaeWeights((m) => {
      const out = new Map<string, HostTensor>();
      const names: Record<string, string> = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' };
      for (const [k, t] of m) {
        const hit = /^(.*\.attentions\.0\.)(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(k);
        if (!hit) out.set(k, t);
        else out.set(`${hit[1]}${names[hit[2]]}.${hit[3]}`, hit[3] === 'weight' ? { ...t, shape: [...t.shape, 1, 1] } : t);
      }
      expect([...out.keys()].filter((k) => k.includes('proj_attn')).length).toBe(4); // encoder + decoder, w + b
      return mapLegacyVaeNames(out, 'legacy vae');
    });
    const be = releaseCheckedCpu();
    const vb = VarBuilder.from(be, legacy);
    const vae = new AutoencoderKL(vb, parseVaeConfig(readConfig(TINY_DIR, 'vae')));
    vb.finish();
    const z = be.fromArray(await golden(FILE, 'vae.dec.input_latent'), goldenShape(FILE, 'vae.dec.input_latent'));
    await check(be, 'cpu legacy names', 'vae.dec.output', vae.decode(z));
  });

  it('mid_block_add_attention false and use_(post_)quant_conv false need exactly the remaining weights', async () => {
    const drop = /(\.attentions\.|^quant_conv\.|^post_quant_conv\.)/;
    const weights = await patchedVaeWeights((m) => new Map([...m].filter(([k]) => !drop.test(k))));
    const be = releaseCheckedCpu();
    const vb = VarBuilder.from(be, weights);
    const cfg = parseVaeConfig({
      ...(readConfig(TINY_DIR, 'vae') as object),
      mid_block_add_attention: false,
      use_quant_conv: false,
      use_post_quant_conv: false,
    });
    const vae = new AutoencoderKL(vb, cfg);
    vb.finish(); // nothing missing, nothing unused
    expect(vae.encoder.mid_block.attentions).toEqual([null]);
    const x = be.fromArray(await golden(FILE, 'vae.input'), goldenShape(FILE, 'vae.input'));
    const dist = vae.encode(x);
    expect(dist.moments.shape).toEqual([1, 8, 8, 8]);
    const img = vae.decode(dist.mode());
    expect(img.shape).toEqual([1, 3, 64, 64]);
    dist.release();
    be.release(img);
  });
});
