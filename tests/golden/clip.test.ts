// CLIPTextModel against the transformers goldens of the tiny fixture model (models/tiny-ip2p/golden/
// text.safetensors): last_hidden_state, every hidden state and the pooled output for the 10 tokenizer prompts,
// one prompt alone (batch independence), and the fp16 weight file against the same fp32 goldens at a looser
// bar. The same cases run on the CPU reference (release discipline checked) and on WebGPU.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../../src/engine/ops/ops.ts';
import type { CLIPTextModel } from '../../src/engine/models/modeling_clip.ts';
import { expectClose } from '../helpers/compare.ts';
import { golden, goldenFile, goldenShape } from '../helpers/golden_file.ts';
import { buildTinyClip } from '../helpers/golden.ts';
import { testBackend } from '../helpers/gpu.ts';
import { releaseCheckedCpu, type CheckedBackend } from '../helpers/unet_golden.ts';

const FILE = 'text.safetensors';
/** fp16 weight file vs the fp32 goldens: the weights' own rounding (2^-11 relative) sets this, not our compute. */
const FP16_REL = 1e-2;

async function inputIds(): Promise<{ ids: Int32Array; batch: number; len: number }> {
  const t = await goldenFile(FILE).read('text_encoder.input_ids');
  expect(t.dtype).toBe('I32');
  const [batch, len] = t.shape;
  return { ids: t.data as Int32Array, batch, len };
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

describe.each(BACKENDS)('CLIPTextModel vs transformers goldens on $name', ({ name, make }) => {
  let be: Backend;
  let model: CLIPTextModel;

  beforeAll(async () => {
    be = await make();
    model = await buildTinyClip(be, 'fp32');
  });

  it('last_hidden_state, hidden_states.0..L and pooler_output for all 10 prompts', async () => {
    const { ids, batch, len } = await inputIds();
    expect([batch, len]).toEqual([10, 77]);
    const live = name === 'cpu' ? (be as CheckedBackend).liveTensors() : 0;
    const out = model.forward(ids, batch, { outputHiddenStates: true, outputPooled: true });
    expect(out.lastHiddenState.shape).toEqual(goldenShape(FILE, 'text_encoder.last_hidden_state'));
    const hs = out.hiddenStates!;
    expect(hs.length).toBe(model.config.num_hidden_layers + 1);
    for (let i = 0; i < hs.length; i++) {
      const key = `text_encoder.hidden_states.${i}`;
      const d = expectClose(key, await readAndRelease(be, hs[i]), await golden(FILE, key));
      console.log(`[${name}] ${key}: max|d| ${d.toExponential(2)}`);
    }
    const key = 'text_encoder.last_hidden_state';
    const d = expectClose(key, await readAndRelease(be, out.lastHiddenState), await golden(FILE, key));
    console.log(`[${name}] ${key}: max|d| ${d.toExponential(2)}`);
    expect(out.pooledOutput!.shape).toEqual(goldenShape(FILE, 'text_encoder.pooler_output'));
    const p = expectClose('pooler_output', await readAndRelease(be, out.pooledOutput!), await golden(FILE, 'text_encoder.pooler_output'));
    console.log(`[${name}] pooler_output: max|d| ${p.toExponential(2)}`);
    // everything the forward made was handed back and released: nothing leaked
    if (name === 'cpu') expect((be as CheckedBackend).liveTensors()).toBe(live);
  });

  it('one prompt alone gives its row of the batch (no mixing across the batch)', async () => {
    const { ids, len } = await inputIds();
    const row = 9; // the prompt with special tokens written literally
    const out = model.forward(ids.slice(row * len, (row + 1) * len), 1);
    expect(out.hiddenStates).toBeUndefined();
    const ref = (await golden(FILE, 'text_encoder.last_hidden_state')).subarray(row * len * 32, (row + 1) * len * 32);
    expectClose(`last_hidden_state[${row}]`, await readAndRelease(be, out.lastHiddenState), ref);
  });

  it(`fp16 weight file: last_hidden_state within ${FP16_REL} x max(1, std) of the fp32 golden`, async () => {
    const fp16 = await buildTinyClip(be, 'fp16');
    expect(fp16.text_model.token_embedding.dtype).toBe('f16');
    const { ids, batch } = await inputIds();
    const out = fp16.forward(ids, batch);
    const key = 'text_encoder.last_hidden_state';
    const d = expectClose(`${key} (fp16 weights)`, await readAndRelease(be, out.lastHiddenState), await golden(FILE, key), FP16_REL);
    console.log(`[${name}] ${key} with fp16 weights: max|d| ${d.toExponential(2)}`);
  });

  it('rejects token ids outside the vocabulary', () => {
    const bad = new Int32Array(77).fill(49407);
    bad[3] = 49408;
    expect(() => model.forward(bad, 1)).toThrow(/token id 49408/);
  });
});
