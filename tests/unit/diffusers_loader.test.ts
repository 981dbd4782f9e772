// The pipeline folder loader on the tiny fixture from a Node folder, picked files and a local HTTP server: variant
// choice, configs and tokenizer files, clear errors for wrong folders, legacy VAE names, and the inspect command.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runInspect } from '../../src/cli/inspect.ts';
import {
  fileListSource,
  loadPipelineFolder,
  loadTensorFile,
  mapLegacyVaeNames,
  nodeFolderSource,
  openPipelineFolder,
  urlSource,
  type HostWeightSource,
  type PickedFile,
} from '../../src/engine/weights/diffusers.ts';
import { SafetensorsFile, halfBitsToF32, writeSafetensors, type HostTensor } from '../../src/engine/weights/safetensors.ts';
import { KNOWN_EXTRAS, VarBuilder } from '../../src/engine/weights/var_builder.ts';
import { serveFolder, type TestServer } from '../helpers/http_server.ts';

const MODEL = fileURLToPath(new URL('../../models/tiny-ip2p/', import.meta.url));
const cases = JSON.parse(readFileSync(MODEL + 'golden/cases.json', 'utf8'));
const reload: Record<string, { tensors: number; params: number }> = cases.reload_check;

/** The tiny folder as <input webkitdirectory> would give it (golden/ left out), with files replaced or dropped. */
function picked(prefix: string, replace: Record<string, Uint8Array | null> = {}): PickedFile[] {
  const out: PickedFile[] = [];
  for (const rel of readdirSync(MODEL, { recursive: true, encoding: 'utf8' }).sort()) {
    if (rel.startsWith('golden') || !rel.includes('.')) continue;
    const bytes = rel in replace ? replace[rel] : new Uint8Array(readFileSync(MODEL + rel));
    if (bytes) out.push(Object.assign(new Blob([bytes.slice()]), { name: rel.split('/').pop()!, webkitRelativePath: prefix + rel }));
  }
  return out;
}

function sameBytes(a: HostTensor, b: HostTensor): boolean {
  const view = (t: HostTensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return a.dtype === b.dtype && view(a).equals(view(b));
}

function modelParams(w: HostWeightSource): { tensors: number; params: number } {
  const keys = w.keys().filter((k) => !KNOWN_EXTRAS.some((re) => re.test(k)));
  return { tensors: keys.length, params: keys.reduce((a, k) => a + w.shape(k)!.reduce((x, y) => x * y, 1), 0) };
}

describe('loadPipelineFolder', () => {
  it('picks the fp16 files by default and reads every tensor', async () => {
    const p = await loadPipelineFolder(nodeFolderSource(MODEL));
    expect(p.files.map((f) => f.path)).toEqual([
      'unet/diffusion_pytorch_model.fp16.safetensors',
      'vae/diffusion_pytorch_model.fp16.safetensors',
      'text_encoder/model.fp16.safetensors',
    ]);
    for (const c of ['unet', 'vae', 'text_encoder'] as const) expect(modelParams(p.weights[c])).toEqual(reload[c]);
    expect(p.weights.unet.data('conv_in.weight').dtype).toBe('f16');
    expect(p.weights.unet.shape('conv_in.weight')).toEqual([32, 8, 3, 3]);
    expect(p.files[2].dtypes).toEqual({ F16: 36, I64: 1 });
    expect(p.files[2].extras).toEqual(['text_model.embeddings.position_ids']);
    expect(p.files[0].bytes).toBe(readFileSync(MODEL + p.files[0].path).length);
    expect(() => p.weights.text_encoder.data('text_model.embeddings.position_ids')).toThrow(/position_ids" is I64, not a float weight/);
    expect(Array.from(p.weights.text_encoder.tensor('text_model.embeddings.position_ids').data as BigInt64Array).slice(0, 3)).toEqual([0n, 1n, 2n]);
    // VarBuilder reads this source: a shape-only get with the right shape and dtype.
    const vb = VarBuilder.from(null, p.weights.unet);
    expect(vb.pp('conv_in').get('weight', [32, 8, 3, 3]).dtype).toBe('f16');
  });

  it('reads the fp32 files when asked, and they agree with the fp16 ones to half precision', async () => {
    const source = nodeFolderSource(MODEL);
    const p32 = await loadPipelineFolder(source, { variant: 'fp32' });
    const p16 = await loadPipelineFolder(source, { variant: 'fp16' });
    expect(p32.files.map((f) => f.path)).toEqual([
      'unet/diffusion_pytorch_model.safetensors',
      'vae/diffusion_pytorch_model.safetensors',
      'text_encoder/model.safetensors',
    ]);
    expect(p16.files[0].path).toBe('unet/diffusion_pytorch_model.fp16.safetensors');
    let n = 0;
    for (const c of ['unet', 'vae', 'text_encoder'] as const) {
      expect(p32.weights[c].keys().sort()).toEqual(p16.weights[c].keys().sort());
      for (const k of p32.weights[c].keys()) {
        if (KNOWN_EXTRAS.some((re) => re.test(k))) continue;
        const a = p32.weights[c].data(k);
        const b = p16.weights[c].data(k);
        expect([a.dtype, b.dtype]).toEqual(['f32', 'f16']);
        const wide = halfBitsToF32(b.data as Uint16Array);
        for (let i = 0; i < wide.length; i++) {
          if (Math.abs(wide[i] - a.data[i]) > Math.abs(a.data[i]) * 2 ** -11 + 2 ** -25) throw new Error(`${c} ${k}[${i}]: ${a.data[i]} vs ${wide[i]}`);
        }
        n++;
      }
    }
    expect(n).toBe(208 + 176 + 36);
  });

  it('hands the configs and tokenizer files over as they are', async () => {
    const p = await openPipelineFolder(nodeFolderSource(MODEL));
    expect(p.modelIndex._class_name).toBe('StableDiffusionInstructPix2PixPipeline');
    expect(p.configs.unet).toMatchObject({ in_channels: 8, out_channels: 4, block_out_channels: [32, 64], cross_attention_dim: 32 });
    expect(p.configs.vae).toMatchObject({ scaling_factor: 0.18215, latent_channels: 4 });
    expect(p.configs.text_encoder).toMatchObject({ hidden_size: 32, num_hidden_layers: 2, hidden_act: 'quick_gelu' });
    expect(p.configs.scheduler).toMatchObject({ _class_name: 'EulerAncestralDiscreteScheduler', beta_schedule: 'scaled_linear' });
    const t = p.tokenizer;
    expect(Object.keys(t.vocab).length).toBe(49408);
    expect([t.vocab['<|startoftext|>'], t.vocab['<|endoftext|>'], t.vocab['a</w>']]).toEqual([49406, 49407, 320]);
    // merges.txt: a '#version' line, then 49152 - 256 - 2 merges.
    expect(t.merges.length).toBe(48894);
    expect(t.merges[0]).toBe('i n');
    expect(t.merges.every((m) => m.split(' ').length === 2)).toBe(true);
    expect(t.config).toMatchObject({ model_max_length: 77, tokenizer_class: 'CLIPTokenizer' });
    expect(t.config.bos_token).toMatchObject({ __type: 'AddedToken', content: '<|startoftext|>' });
    expect(t.specialTokensMap).toBeDefined();
  });

  it('loads picked files, also when a parent folder was picked', async () => {
    const a = await loadPipelineFolder(fileListSource(picked('tiny-ip2p/')));
    const b = await loadPipelineFolder(fileListSource(picked('models/tiny-ip2p/')), { variant: 'fp32' });
    expect(a.source).toBe('tiny-ip2p');
    expect(b.source).toBe('models/tiny-ip2p');
    expect(a.files[0].path).toBe('unet/diffusion_pytorch_model.fp16.safetensors');
    expect(modelParams(a.weights.vae)).toEqual(reload.vae);
    expect(modelParams(b.weights.unet)).toEqual(reload.unet);
    expect(b.weights.unet.data('conv_in.bias').dtype).toBe('f32');
  });

  it('says clearly what is wrong with a folder', async () => {
    await expect(loadPipelineFolder(nodeFolderSource(MODEL + 'golden'))).rejects.toThrow(
      /^not a diffusers pipeline folder: .*golden has no model_index\.json$/,
    );
    const unetIndex = new TextEncoder().encode('{"_class_name": "UNet2DConditionModel"}');
    await expect(loadPipelineFolder(fileListSource(picked('m/', { 'model_index.json': unetIndex })))).rejects.toThrow(
      /^not a diffusers pipeline folder: m\/model_index\.json has _class_name "UNet2DConditionModel"/,
    );
    const noUnet = { 'unet/diffusion_pytorch_model.safetensors': null, 'unet/diffusion_pytorch_model.fp16.safetensors': null };
    await expect(loadPipelineFolder(fileListSource(picked('m/', noUnet)))).rejects.toThrow(
      'm: missing unet/diffusion_pytorch_model.safetensors (and no unet/diffusion_pytorch_model.fp16.safetensors)',
    );
    const no16 = { 'vae/diffusion_pytorch_model.fp16.safetensors': null };
    await expect(loadPipelineFolder(fileListSource(picked('m/', no16)), { variant: 'fp16' })).rejects.toThrow(
      'm: missing vae/diffusion_pytorch_model.fp16.safetensors (variant fp16 was asked; vae/diffusion_pytorch_model.safetensors exists)',
    );
    const auto = await openPipelineFolder(fileListSource(picked('m/', no16)));
    expect(auto.files.map((f) => f.path)).toContain('vae/diffusion_pytorch_model.safetensors');
    const no32 = { 'text_encoder/model.safetensors': null };
    await expect(loadPipelineFolder(fileListSource(picked('m/', no32)), { variant: 'fp32' })).rejects.toThrow(
      /^m: missing text_encoder\/model\.safetensors \(text_encoder\/model\.fp16\.safetensors exists/,
    );
    await expect(loadPipelineFolder(fileListSource(picked('m/', { 'vae/config.json': null })))).rejects.toThrow(
      'm: missing vae/config.json (VAE config)',
    );
    const broken = { 'unet/diffusion_pytorch_model.fp16.safetensors': new Uint8Array(4) };
    await expect(loadPipelineFolder(fileListSource(picked('m/', broken)))).rejects.toThrow(
      /^m\/unet\/diffusion_pytorch_model\.fp16\.safetensors: file is 4 bytes, too small/,
    );
  });

  it('maps legacy VAE attention names (query/key/value/proj_attn, 1x1-conv weights) as diffusers does', async () => {
    const rel = 'vae/diffusion_pytorch_model.safetensors';
    const orig = await SafetensorsFile.fromArrayBuffer(readFileSync(MODEL + rel), rel).readAll();
    const legacy: Record<string, HostTensor> = {};
    const names: Record<string, string> = { to_q: 'query', to_k: 'key', to_v: 'value', 'to_out.0': 'proj_attn' };
    for (const [k, t] of orig) {
      const m = /^(.*attentions\.0\.)(to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(k);
      if (!m) legacy[k] = t;
      else legacy[`${m[1]}${names[m[2]]}.${m[3]}`] = m[3] === 'weight' ? { ...t, shape: [...t.shape, 1, 1] } : t;
    }
    const bytes = writeSafetensors(legacy, { format: 'pt' });
    const renamedFile = SafetensorsFile.fromArrayBuffer(bytes, 'legacy');
    expect(renamedFile.keys().filter((k) => /\.(query|key|value|proj_attn)\./.test(k)).length).toBe(16);
    expect(renamedFile.info('encoder.mid_block.attentions.0.query.weight').shape).toEqual([32, 32, 1, 1]);
    expect(renamedFile.keys().some((k) => k.includes('to_q'))).toBe(false);

    const p = await loadPipelineFolder(fileListSource(picked('m/', { [rel]: bytes })), { variant: 'fp32' });
    const vae = p.weights.vae;
    expect(vae.keys().sort()).toEqual([...orig.keys()].sort());
    for (const [k, t] of orig) {
      expect([k, vae.shape(k)]).toEqual([k, t.shape]);
      expect(Array.from(vae.data(k).data)).toEqual(Array.from(t.data as Float32Array));
    }
    const single = await loadTensorFile(fileListSource(picked('m/', { [rel]: bytes })), rel);
    expect(single.keys().sort()).toEqual([...orig.keys()].sort());
    expect(single.shape('decoder.mid_block.attentions.0.to_out.0.weight')).toEqual([32, 32]);
    const both = new Map(orig);
    both.set('decoder.mid_block.attentions.0.query.weight', orig.get('decoder.mid_block.attentions.0.to_q.weight')!);
    expect(() => mapLegacyVaeNames(both, 'x')).toThrow(/^x: has both decoder\.mid_block\.attentions\.0\.query\.weight and .*to_q\.weight/);
  });
});

describe('urlSource', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serveFolder(MODEL);
  });
  afterAll(() => server.close());

  it('loads the folder over HTTP, fetching only the chosen weight files, by Range', async () => {
    const p = await loadPipelineFolder(urlSource(server.url + '/'));
    const local = await loadPipelineFolder(nodeFolderSource(MODEL));
    expect(p.source).toBe(server.url);
    expect(p.files).toEqual(local.files);
    for (const c of ['unet', 'vae', 'text_encoder'] as const) {
      expect(p.weights[c].keys()).toEqual(local.weights[c].keys());
      for (const k of p.weights[c].keys()) expect([k, sameBytes(p.weights[c].tensor(k), local.weights[c].tensor(k))]).toEqual([k, true]);
    }
    expect(p.tokenizer.merges).toEqual(local.tokenizer.merges);
    const gets = server.requests.filter((r) => r.method === 'GET' && r.path.endsWith('.safetensors'));
    expect(gets.every((r) => r.path.endsWith('.fp16.safetensors') && r.status === 206)).toBe(true);
    expect(gets.length).toBe(3 * 3); // per file: 8 bytes, header, all tensors in one chunk
    const weightBytes = gets.reduce((a, r) => a + r.bytes, 0);
    expect(weightBytes).toBe(p.files.reduce((a, f) => a + f.bytes, 0));
  });

  it('says which URL failed', async () => {
    await expect(loadPipelineFolder(urlSource(server.url + '/golden'))).rejects.toThrow(/^not a diffusers pipeline folder: .*\/golden has no model_index\.json/);
  });
});

describe('inspect', () => {
  it('prints components, configs and weight files, and fails clearly on a bad folder', async () => {
    let printed = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed += String(chunk);
      return true;
    });
    try {
      expect(await runInspect(['--model', MODEL])).toBe(0);
      expect(printed).toContain('StableDiffusionInstructPix2PixPipeline');
      expect(printed).toMatch(/unet\s+diffusers UNet2DConditionModel/);
      expect(printed).toMatch(/unet\s+unet\/diffusion_pytorch_model\.fp16\.safetensors\s+F16 208\s+208 tensors\s+794,116 params/);
      expect(printed).toMatch(/vae\s+vae\/diffusion_pytorch_model\.fp16\.safetensors\s+F16 176\s+176 tensors\s+367,527 params/);
      expect(printed).toMatch(/total\s+421 tensors\s+2,762,392 params/);
      expect(printed).toContain('scaling_factor 0.18215');
      printed = '';
      expect(await runInspect(['--model', MODEL, '--variant=fp32'])).toBe(0);
      expect(printed).toMatch(/text_encoder\/model\.safetensors\s+I64 1, F32 36/);
      await expect(runInspect(['--model', MODEL + 'golden'])).rejects.toThrow(/^not a diffusers pipeline folder: .*golden has no model_index\.json/);
      // The real model's config-only folder: configs are printed, then the missing weights are the error.
      printed = '';
      await expect(runInspect(['-m', 'models/instruct-pix2pix'])).rejects.toThrow(
        'models/instruct-pix2pix: missing unet/diffusion_pytorch_model.safetensors (and no unet/diffusion_pytorch_model.fp16.safetensors)',
      );
      expect(printed).toMatch(/block_out_channels \[320, 640, 1280, 1280\]/);
      await expect(runInspect(['--model', MODEL, '--variant', 'fp8'])).rejects.toMatchObject({ name: 'UsageError', exitCode: 2 });
      await expect(runInspect([])).rejects.toThrow('missing --model');
    } finally {
      write.mockRestore();
    }
  });
});
