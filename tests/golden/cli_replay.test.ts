// diffusers' run1 replayed through the command line (`retouch edit --noise ... --dump ...`, default backend WebGPU):
// the dumped intermediates and the written PNG against the golden run at the issue-4 bars.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.ts';
import { expectClose, maxAbsDiff, stats } from '../helpers/compare.ts';
import { golden, goldenFile } from '../helpers/golden_file.ts';

const root = join(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'retouch-replay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const F = 'pipeline.safetensors';
const STEPS = 5;

describe('retouch edit replays diffusers run1', () => {
  it('dumped tensors and the PNG match the golden run', async () => {
    // 1. the run's input image as a PNG (written by pngjs, RGB 8-bit)
    const img = await goldenFile(F).read('run1.image_u8'); // [64,64,3] U8
    const [H, W] = img.shape;
    const png = new PNG({ width: W, height: H, colorType: 2, inputHasAlpha: false });
    png.data = Buffer.from(img.data as Uint8Array);
    const input = join(tmp, 'run1.png');
    writeFileSync(input, PNG.sync.write(png, { colorType: 2, inputHasAlpha: false }));

    // 2. the CLI with run1's parameters and recorded noise
    const out = join(tmp, 'out.png');
    const dumpDir = join(tmp, 'dump');
    const args = ['--model', 'models/tiny-ip2p', '--variant', 'fp32', '--image', input, '--prompt', 'make the sky a sunset',
      '--steps', String(STEPS), '--text-guidance', '7.5', '--image-guidance', '1.5', '--out', out, '--dump', dumpDir,
      '--noise', `${root}/models/tiny-ip2p/golden/pipeline.safetensors`, '--noise-prefix', 'run1.'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'edit', ...args],
      { cwd: root, encoding: 'utf8', timeout: 240_000, env: { ...process.env, RETOUCH_DEBUG: '1' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^backend webgpu/m);
    expect(r.stdout).toContain(`wrote ${out} (64x64)`);

    // 3. the dump: every documented tensor, with its dtype and shape
    const dump = SafetensorsFile.fromArrayBuffer(readFileSync(join(dumpDir, 'pipeline.safetensors')), 'dump');
    const steps = Array.from({ length: STEPS }, (_, i) => [`step${i}.noise_pred_batch`, `step${i}.noise_pred`, `step${i}.latents_out`]).flat();
    expect(dump.keys().sort()).toEqual(['input_ids', 'prompt_embeds', 'image_latents', 'latents_init', ...steps,
      'vae_decode_output', 'output_u8'].sort());
    expect([dump.info('input_ids').dtype, dump.info('input_ids').shape]).toEqual(['I32', [2, 77]]);
    expect([dump.info('output_u8').dtype, dump.info('output_u8').shape]).toEqual(['U8', [H, W, 3]]);

    // token ids: the prompt's golden ids, then "" = [BOS, EOS x 76] (GOLDEN.md)
    const cases = JSON.parse(readFileSync(join(root, 'models/tiny-ip2p/golden/cases.json'), 'utf8')) as {
      tokenizer: { prompts: { prompt: string; input_ids: number[] }[] };
    };
    const ids = cases.tokenizer.prompts.find((p) => p.prompt === 'make the sky a sunset')!.input_ids;
    expect(Array.from((await dump.read('input_ids')).data as Int32Array)).toEqual([...ids, 49406, ...Array(76).fill(49407)]);

    // 4. the issue-4 bars
    const ours = (k: string) => dump.readF32(k);
    const ref = (k: string) => golden(F, `run1.${k}`);
    for (const k of ['prompt_embeds', 'image_latents', 'latents_init', 'step0.noise_pred_batch']) {
      const d = expectClose(k, await ours(k), await ref(k));
      console.log(`[cli replay] ${k}: max|d| ${d.toExponential(2)}`);
    }
    for (let i = 0; i < STEPS; i++) {
      const k = `step${i}.latents_out`;
      const g = await ref(k);
      const d = maxAbsDiff(await ours(k), g);
      const tol = 2e-3 * stats(g).std;
      console.log(`[cli replay] ${k}: max|d| ${d.toExponential(2)} (bar ${tol.toExponential(2)})`);
      expect(d, `${k} max|d| vs 2e-3 x std`).toBeLessThanOrEqual(tol);
    }
    const refU8 = (await goldenFile(F).read('run1.output_u8')).data as Uint8Array;
    const dumpedU8 = (await dump.read('output_u8')).data as Uint8Array;
    let within1 = 0, max = 0;
    for (let i = 0; i < refU8.length; i++) {
      const d = Math.abs(dumpedU8[i] - refU8[i]);
      if (d <= 1) within1++;
      max = Math.max(max, d);
    }
    console.log(`[cli replay] output_u8: ${((100 * within1) / refU8.length).toFixed(2)}% within 1 level, max ${max}`);
    expect(within1 / refU8.length).toBeGreaterThanOrEqual(0.995);
    expect(max).toBeLessThanOrEqual(3);

    // 5. the PNG holds exactly the dumped output image
    const written = PNG.sync.read(readFileSync(out));
    expect([written.width, written.height]).toEqual([W, H]);
    const rgb = new Uint8Array(W * H * 3);
    for (let p = 0; p < W * H; p++) rgb.set(written.data.subarray(p * 4, p * 4 + 3), p * 3);
    expect(Buffer.from(rgb).equals(Buffer.from(dumpedU8))).toBe(true);
  });
});
