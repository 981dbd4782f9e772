// UNet2DConditionModel built shape-only or with synthetic weights for configs other than the fixture's: the
// real instruct-pix2pix UNet (parameter count), linear projections, per-block head lists, three blocks,
// layers_per_block 2, other group counts, no mid block, latents not divisible by 2**num_upsamplers. Expected
// key lists come from an independent listing of diffusers' state dict below, and counts are derived by hand.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseUNetConfig } from '../../src/engine/models/configs.ts';
import { Transformer2DModel } from '../../src/engine/models/transformer_2d.ts';
import { UNet2DConditionModel } from '../../src/engine/models/unet_2d_condition.ts';
import type { WeightData } from '../../src/engine/ops/ops.ts';
import { VarBuilder, type WeightSource } from '../../src/engine/weights/var_builder.ts';
import { releaseCheckedCpu, tinyUNetWeights } from '../helpers/unet_golden.ts';

// ---- an independent listing of diffusers' UNet2DConditionModel state dict (key -> shape) -------------------------

type Dict = Map<string, number[]>;
interface Spec {
  inCh: number;
  boc: number[];
  lpb: number[];
  tlpb: number[];
  cross: number;
  down: string[];
  up: string[];
  mid: 'cross' | 'resnet' | null;
  linear: boolean;
}

function stateDict(s: Spec): Dict {
  const d: Dict = new Map();
  const lin = (p: string, i: number, o: number, bias = true) => {
    d.set(`${p}.weight`, [o, i]);
    if (bias) d.set(`${p}.bias`, [o]);
  };
  const conv = (p: string, i: number, o: number, k: number) => {
    d.set(`${p}.weight`, [o, i, k, k]);
    d.set(`${p}.bias`, [o]);
  };
  const norm = (p: string, c: number) => {
    d.set(`${p}.weight`, [c]);
    d.set(`${p}.bias`, [c]);
  };
  const T = s.boc[0] * 4;
  const resnet = (p: string, i: number, o: number) => {
    norm(`${p}.norm1`, i);
    conv(`${p}.conv1`, i, o, 3);
    lin(`${p}.time_emb_proj`, T, o);
    norm(`${p}.norm2`, o);
    conv(`${p}.conv2`, o, o, 3);
    if (i !== o) conv(`${p}.conv_shortcut`, i, o, 1);
  };
  const attn = (p: string, q: number, kv: number) => {
    lin(`${p}.to_q`, q, q, false);
    lin(`${p}.to_k`, kv, q, false);
    lin(`${p}.to_v`, kv, q, false);
    lin(`${p}.to_out.0`, q, q);
  };
  const t2d = (p: string, c: number, layers: number) => {
    norm(`${p}.norm`, c);
    if (s.linear) lin(`${p}.proj_in`, c, c);
    else conv(`${p}.proj_in`, c, c, 1);
    for (let l = 0; l < layers; l++) {
      const b = `${p}.transformer_blocks.${l}`;
      for (const n of ['norm1', 'norm2', 'norm3']) norm(`${b}.${n}`, c);
      attn(`${b}.attn1`, c, c);
      attn(`${b}.attn2`, c, s.cross);
      lin(`${b}.ff.net.0.proj`, c, 8 * c);
      lin(`${b}.ff.net.2`, 4 * c, c);
    }
    if (s.linear) lin(`${p}.proj_out`, c, c);
    else conv(`${p}.proj_out`, c, c, 1);
  };
  const n = s.boc.length;
  lin('time_embedding.linear_1', s.boc[0], T);
  lin('time_embedding.linear_2', T, T);
  conv('conv_in', s.inCh, s.boc[0], 3);
  for (let i = 0; i < n; i++) {
    const cin = s.boc[Math.max(0, i - 1)];
    const co = s.boc[i];
    for (let l = 0; l < s.lpb[i]; l++) {
      resnet(`down_blocks.${i}.resnets.${l}`, l === 0 ? cin : co, co);
      if (s.down[i].startsWith('CrossAttn')) t2d(`down_blocks.${i}.attentions.${l}`, co, s.tlpb[i]);
    }
    if (i < n - 1) conv(`down_blocks.${i}.downsamplers.0.conv`, co, co, 3);
  }
  const c = s.boc[n - 1];
  if (s.mid) resnet('mid_block.resnets.0', c, c);
  if (s.mid === 'cross') {
    t2d('mid_block.attentions.0', c, s.tlpb[n - 1]);
    resnet('mid_block.resnets.1', c, c);
  }
  const r = [...s.boc].reverse();
  const rl = [...s.lpb].reverse();
  const rt = [...s.tlpb].reverse();
  for (let i = 0; i < n; i++) {
    const prev = r[Math.max(0, i - 1)];
    const co = r[i];
    const skipIn = r[Math.min(i + 1, n - 1)];
    const layers = rl[i] + 1;
    for (let l = 0; l < layers; l++) {
      resnet(`up_blocks.${i}.resnets.${l}`, (l === 0 ? prev : co) + (l === layers - 1 ? skipIn : co), co);
      if (s.up[i].startsWith('CrossAttn')) t2d(`up_blocks.${i}.attentions.${l}`, co, rt[i]);
    }
    if (i < n - 1) conv(`up_blocks.${i}.upsamplers.0.conv`, co, co, 3);
  }
  norm('conv_norm_out', s.boc[0]);
  conv('conv_out', s.boc[0], 4, 3);
  return d;
}

const total = (d: Dict) => [...d.values()].reduce((a, sh) => a + sh.reduce((x, y) => x * y, 1), 0);

/** Deterministic synthetic weights for every key of `d` (norm scales near 1, the rest small). */
function syntheticSource(d: Dict): WeightSource {
  return {
    name: 'synthetic',
    keys: () => [...d.keys()],
    shape: (k) => d.get(k),
    data: (k): WeightData => {
      const shape = d.get(k)!;
      const n = shape.reduce((a, b) => a * b, 1);
      const isNormScale = /norm[^.]*\.weight$/.test(k);
      const fanIn = shape.length > 1 ? n / shape[0] : 1;
      const amp = isNormScale ? 0.1 : 1 / Math.sqrt(fanIn);
      const wave = (i: number) => amp * Math.sin(i * 12.9898 + k.length * 78.233);
      const data = Float32Array.from({ length: n }, (_, i) => (isNormScale ? 1 : 0) + wave(i));
      return { dtype: 'f32', data };
    },
  };
}

const realConfig = () => JSON.parse(readFileSync('models/instruct-pix2pix/unet/config.json', 'utf8')) as Record<string, unknown>;
const SD = {
  boc: [320, 640, 1280, 1280],
  lpb: [2, 2, 2, 2],
  tlpb: [1, 1, 1, 1],
  cross: 768,
  down: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  mid: 'cross' as const,
  linear: false,
};

function shapeOnly(json: Record<string, unknown>): { unet: UNet2DConditionModel; params: number } {
  const vb = VarBuilder.from(null, null);
  const unet = new UNet2DConditionModel(vb, parseUNetConfig(json));
  return { unet, params: vb.paramCount };
}

describe('UNet2DConditionModel shapes and parameter counts', () => {
  it('the independent state-dict listing reproduces the fixture file exactly (keys and shapes)', async () => {
    const file = await tinyUNetWeights('fp32');
    // the fixture: two blocks [CrossAttnDownBlock2D, DownBlock2D], one layer each, cross_attention_dim 32
    const d = stateDict({
      ...SD, inCh: 8, boc: [32, 64], lpb: [1, 1], tlpb: [1, 1], cross: 32,
      down: SD.down.slice(2), up: ['UpBlock2D', 'CrossAttnUpBlock2D'],
    });
    expect(new Set(d.keys())).toEqual(new Set(file.keys()));
    for (const k of file.keys()) expect(d.get(k), k).toEqual([...file.shape(k)!]);
    expect(total(d)).toBe(794_116);
  });

  it('the real instruct-pix2pix UNet (in_channels 8): 859,532,484 parameters', () => {
    // SD1.5's UNet (in_channels 4) has 859,520,964 parameters; each extra input channel adds one 320x3x3 slice of
    // conv_in's weight (2,880): 8 channels -> 859,532,484; 9 (the inpainting UNet) -> 859,535,364.
    const { unet, params } = shapeOnly(realConfig());
    expect(params).toBe(859_532_484);
    expect(total(stateDict({ ...SD, inCh: 8 }))).toBe(859_532_484);
    expect(shapeOnly({ ...realConfig(), in_channels: 4 }).params).toBe(859_520_964);
    expect(shapeOnly({ ...realConfig(), in_channels: 9 }).params).toBe(859_535_364);
    // structure: attention_head_dim 8 is the number of heads (head dim 40, 80, 160, 160)
    const heads = (b: { attentions?: Transformer2DModel[] }) => b.attentions?.[0]?.transformer_blocks[0].attn1.heads;
    expect(unet.down_blocks.map((b) => heads(b as never))).toEqual([8, 8, 8, undefined]);
    expect(unet.down_blocks[0].resnets.length).toBe(2);
    expect(unet.up_blocks.map((b) => b.resnets.length)).toEqual([3, 3, 3, 3]);
    expect(unet.numUpsamplers).toBe(3);
  });

  it('keys and shapes of the real config equal the listing (vb.finish with a shape-only source)', () => {
    const d = stateDict({ ...SD, inCh: 8 });
    // no backend: VarBuilder only asks the source for each tensor's dtype
    const dtypeOnly = (): WeightData => ({ dtype: 'f32', data: new Float32Array(0) });
    const source: WeightSource = {
      name: 'listing', keys: () => [...d.keys()], shape: (k) => d.get(k), data: dtypeOnly,
    };
    const vb = VarBuilder.from(null, source);
    new UNet2DConditionModel(vb, parseUNetConfig(realConfig()));
    expect(vb.finish()).toEqual([]);
  });

  it('SD 2.x style: use_linear_projection true, head counts per block as a list, cross_attention_dim 1024', () => {
    const json = {
      ...realConfig(), in_channels: 4, use_linear_projection: true, attention_head_dim: [5, 10, 20, 20],
      cross_attention_dim: 1024,
    };
    const { unet, params } = shapeOnly(json);
    // SD 2.x's UNet: 865,910,724 parameters (Linear proj_in/out hold as many as the 1x1 convs)
    expect(params).toBe(865_910_724);
    expect(total(stateDict({ ...SD, inCh: 4, cross: 1024, linear: true }))).toBe(865_910_724);
    const blk = (b: unknown) => (b as { attentions: Transformer2DModel[] }).attentions[0]?.transformer_blocks[0].attn1;
    expect(unet.down_blocks.slice(0, 3).map((b) => blk(b).heads)).toEqual([5, 10, 20]);
    expect(unet.down_blocks.slice(0, 3).map((b) => blk(b).dimHead)).toEqual([64, 64, 64]);
    // up blocks use the head list reversed: [20, 20, 10, 5] for UpBlock2D, CrossAttn x3
    expect(unet.up_blocks.slice(1).map((b) => blk(b).heads)).toEqual([20, 10, 5]);
    expect(blk(unet.mid_block).heads).toBe(20);
  });

  it('a Transformer2DModel by hand: C=8, cross 4, one layer, linear projection = 1,512 parameters', () => {
    // norm 16; proj_in 8x8+8 = 72; block: 3 LayerNorms 48, attn1 3*64 + 72 = 264, attn2 64 + 2*32 + 72 = 200,
    // ff GEGLU proj 8->64 576 + net.2 32->8 264; proj_out 72. 16+72+(48+264+200+576+264)+72 = 1512.
    for (const useLinearProjection of [true, false]) {
      const vb = VarBuilder.from(null, null);
      const t = new Transformer2DModel(vb, {
        numAttentionHeads: 2, attentionHeadDim: 4, inChannels: 8, numLayers: 1, crossAttentionDim: 4, normNumGroups: 4,
        useLinearProjection,
      });
      expect(vb.paramCount).toBe(1512);
      expect(t.proj_in.weight.shape).toEqual(useLinearProjection ? [8, 8] : [8, 8, 1, 1]);
    }
  });

  it('resnet-only UNet by hand (boc [8,16], groups 4, DownBlock2D x2, UNetMidBlock2D / no mid) = 35,692 / 30,460', () => {
    // time_embedding 288 + 1056 = 1344; conv_in 4->8 296;
    // down0: resnet(8,8) 16+584+264+16+584 = 1464, downsampler 584; down1: resnet(8,16) 16+1168+528+32+2320+144 = 4208;
    // mid: resnet(16,16) 32+2320+528+32+2320 = 5232;
    // up0 (skips 16 then 8): resnet(32,16) 64+4624+528+32+2320+528 = 8096, resnet(24,16) 48+3472+528+32+2320+400 = 6800,
    //   upsampler 2320; up1: resnet(24,8) 48+1736+264+16+584+200 = 2848, resnet(16,8) 32+1160+264+16+584+136 = 2192;
    // conv_norm_out 16, conv_out 8->4 292. Sum 35,692; without the mid block 30,460.
    const base = {
      in_channels: 4, block_out_channels: [8, 16], layers_per_block: 1, norm_num_groups: 4, cross_attention_dim: 4,
      down_block_types: ['DownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'UpBlock2D'],
    };
    expect(shapeOnly({ ...base, mid_block_type: 'UNetMidBlock2D' }).params).toBe(35_692);
    expect(shapeOnly({ ...base, mid_block_type: null }).params).toBe(30_460);
  });
});

describe('UNet2DConditionModel forward on other configs (CPU, synthetic weights)', () => {
  // Three blocks, layers_per_block 2, 8 groups, linear projections, heads [2, 4, 4], two transformer layers in
  // block 1, cross_attention_dim 16: a 5x7 latent is not divisible by 2**2, so both up-samplers resize to the
  // next skip's size (5x7 -> 3x4 -> 2x2 on the way down; 2x2 -> 3x4 -> 5x7 on the way up).
  const json = {
    in_channels: 4, out_channels: 4, block_out_channels: [16, 32, 32], layers_per_block: 2, norm_num_groups: 8,
    attention_head_dim: [2, 4, 4], use_linear_projection: true, cross_attention_dim: 16, transformer_layers_per_block: [1, 2, 1],
    down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  };
  const spec: Spec = {
    inCh: 4, boc: [16, 32, 32], lpb: [2, 2, 2], tlpb: [1, 2, 1], cross: 16, down: json.down_block_types,
    up: json.up_block_types, mid: 'cross', linear: true,
  };

  it.each([
    [5, 7],
    [8, 8],
    [3, 2],
  ])('latent %ix%i, batch 2: every weight used, output [2,4,h,w], intermediates sized like diffusers', async (h, w) => {
    const be = releaseCheckedCpu();
    const vb = VarBuilder.from(be, syntheticSource(stateDict(spec)));
    const unet = new UNet2DConditionModel(vb, parseUNetConfig(json));
    expect(vb.finish()).toEqual([]);
    const x = be.fromArray(Float32Array.from({ length: 2 * 4 * h * w }, (_, i) => Math.sin(i)), [2, 4, h, w]);
    const ehs = be.fromArray(Float32Array.from({ length: 2 * 77 * 16 }, (_, i) => Math.cos(i * 0.3)), [2, 77, 16]);
    const shapes = new Map<string, readonly number[]>();
    const before = be.liveTensors();
    const out = unet.forward(x, new Float32Array([10, 900.5]), ehs, {
      capture: (name, t) => {
        shapes.set(name, t.shape);
        be.release(t);
      },
    });
    expect(be.liveTensors()).toBe(before + 1);
    const down = (n: number) => Math.floor((n - 1) / 2) + 1; // 3x3 conv, stride 2, padding 1
    const [h1, w1, h2, w2] = [down(h), down(w), down(down(h)), down(down(w))];
    expect(Object.fromEntries(shapes)).toEqual({
      time_proj: [2, 16],
      time_embedding: [2, 64],
      conv_in: [2, 16, h, w],
      'down_blocks.0': [2, 16, h1, w1],
      'down_blocks.1': [2, 32, h2, w2],
      'down_blocks.2': [2, 32, h2, w2],
      mid_block: [2, 32, h2, w2],
      'up_blocks.0': [2, 32, h1, w1],
      'up_blocks.1': [2, 32, h, w],
      'up_blocks.2': [2, 16, h, w],
      conv_norm_out: [2, 16, h, w],
    });
    expect(out.shape).toEqual([2, 4, h, w]);
    const v = await be.read(out);
    expect(v.every(Number.isFinite)).toBe(true);
    // the caller's inputs are intact
    expect((await be.read(x))[1]).toBeCloseTo(Math.sin(1), 6);
  });

  it('batch items are independent: item 1 of a batch of 2 equals the same input run alone', async () => {
    const be = releaseCheckedCpu();
    const vb = VarBuilder.from(be, syntheticSource(stateDict(spec)));
    const unet = new UNet2DConditionModel(vb, parseUNetConfig(json));
    const xs = Float32Array.from({ length: 2 * 4 * 15 }, (_, i) => Math.sin(i * 0.7));
    const es = Float32Array.from({ length: 2 * 77 * 16 }, (_, i) => Math.cos(i * 0.11));
    const both = await be.read(unet.forward(be.fromArray(xs, [2, 4, 3, 5]), new Float32Array([3, 700]), be.fromArray(es, [2, 77, 16])));
    const one = await be.read(
      unet.forward(be.fromArray(xs.slice(60), [1, 4, 3, 5]), new Float32Array([700]), be.fromArray(es.slice(77 * 16), [1, 77, 16])),
    );
    const second = both.slice(60);
    let m = 0;
    for (let i = 0; i < one.length; i++) m = Math.max(m, Math.abs(one[i] - second[i]));
    expect(m).toBeLessThan(1e-5);
  });
});
