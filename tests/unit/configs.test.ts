// Typed configs: the fixture and real instruct-pix2pix config.json files parse to the values diffusers /
// transformers use (defaults for absent keys, per-block expansion, heads = attention_head_dim), unsupported values
// are refused with a message naming the key, and the real-scale CLIP and VAE built shape-only from the real
// configs have the reference parameter counts.
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  parseClipTextConfig,
  parseSchedulerConfig,
  parseUNetConfig,
  parseVaeConfig,
} from '../../src/engine/models/configs.ts';
import { AutoencoderKL } from '../../src/engine/models/autoencoder_kl.ts';
import { CLIPTextModel } from '../../src/engine/models/modeling_clip.ts';
import { Decoder, Encoder } from '../../src/engine/models/vae.ts';
import { VarBuilder } from '../../src/engine/weights/var_builder.ts';
import { readConfig, REAL_DIR, TINY_DIR } from '../helpers/golden.ts';

const unetJson = (dir: string) => readConfig(dir, 'unet') as Record<string, unknown>;

describe('parseUNetConfig', () => {
  it('real instruct-pix2pix: SD1.5 layout, attention_head_dim 8 read as 8 heads per block, absent keys defaulted', () => {
    const c = parseUNetConfig(unetJson(REAL_DIR));
    expect(c.in_channels).toBe(8);
    expect(c.block_out_channels).toEqual([320, 640, 1280, 1280]);
    expect(c.layers_per_block).toEqual([2, 2, 2, 2]);
    expect(c.num_attention_heads).toEqual([8, 8, 8, 8]);
    expect(c.cross_attention_dim).toEqual([768, 768, 768, 768]);
    expect(c.transformer_layers_per_block).toEqual([1, 1, 1, 1]);
    expect(c.only_cross_attention).toEqual([false, false, false, false]);
    expect(c.mid_block_type).toBe('UNetMidBlock2DCrossAttn');
    // keys this 0.12-era file lacks take diffusers' defaults
    expect(c.conv_in_kernel).toBe(3);
    expect(c.time_embedding_type).toBe('positional');
    expect(c.time_embedding_dim).toBeNull();
    expect(c.resnet_out_scale_factor).toBe(1);
    expect(c.addition_embed_type).toBeNull();
  });

  it('tiny fixture: two blocks, 4 heads, explicit nulls treated as absent', () => {
    const c = parseUNetConfig(unetJson(TINY_DIR));
    expect(c.block_out_channels).toEqual([32, 64]);
    expect(c.down_block_types).toEqual(['CrossAttnDownBlock2D', 'DownBlock2D']);
    expect(c.up_block_types).toEqual(['UpBlock2D', 'CrossAttnUpBlock2D']);
    expect(c.num_attention_heads).toEqual([4, 4]); // num_attention_heads: null -> attention_head_dim
    expect(c.layers_per_block).toEqual([1, 1]);
    expect(c.norm_eps).toBe(1e-5);
    expect(c.flip_sin_to_cos).toBe(true);
    expect(c.freq_shift).toBe(0);
  });

  it('an empty object gives diffusers UNet2DConditionModel() defaults', () => {
    const c = parseUNetConfig({});
    expect(c.in_channels).toBe(4);
    expect(c.block_out_channels).toEqual([320, 640, 1280, 1280]);
    expect(c.cross_attention_dim).toEqual([1280, 1280, 1280, 1280]);
    expect(c.num_attention_heads).toEqual([8, 8, 8, 8]);
    expect(c.norm_num_groups).toBe(32);
    expect(c.downsample_padding).toBe(1);
    expect(c.use_linear_projection).toBe(false);
  });

  it('per-block lists, num_attention_heads over attention_head_dim, use_linear_projection, no mid block', () => {
    const c = parseUNetConfig({
      ...unetJson(TINY_DIR),
      attention_head_dim: [2, 4],
      num_attention_heads: [1, 2],
      layers_per_block: [2, 1],
      cross_attention_dim: [32, 48],
      transformer_layers_per_block: [1, 2],
      only_cross_attention: [true, false],
      use_linear_projection: true,
      mid_block_type: null,
    });
    expect(c.attention_head_dim).toEqual([2, 4]);
    expect(c.num_attention_heads).toEqual([1, 2]);
    expect(c.layers_per_block).toEqual([2, 1]);
    expect(c.cross_attention_dim).toEqual([32, 48]);
    expect(c.transformer_layers_per_block).toEqual([1, 2]);
    expect(c.only_cross_attention).toEqual([true, false]);
    expect(c.mid_block_only_cross_attention).toBe(false); // a list does not carry over to the mid block
    expect(c.use_linear_projection).toBe(true);
    expect(c.mid_block_type).toBeNull();
    expect(parseUNetConfig({ ...unetJson(TINY_DIR), only_cross_attention: true }).mid_block_only_cross_attention).toBe(true);
  });

  it.each([
    [{ resnet_time_scale_shift: 'scale_shift' }, /resnet_time_scale_shift.*"default"/],
    [{ time_embedding_type: 'fourier' }, /time_embedding_type/],
    [{ class_embed_type: 'timestep' }, /class_embed_type.*not supported/],
    [{ addition_embed_type: 'text_time' }, /addition_embed_type.*not supported/],
    [{ mid_block_type: 'UNetMidBlock2DSimpleCrossAttn' }, /mid_block_type/],
    [{ down_block_types: ['CrossAttnDownBlock2D', 'SimpleCrossAttnDownBlock2D'] }, /down_block_types/],
    [{ act_fn: 'gelu' }, /act_fn/],
    [{ attention_head_dim: [4, 4, 4] }, /attention_head_dim.*one entry per down block \(2\)/],
    [{ layers_per_block: 'two' }, /layers_per_block/],
    [{ block_out_channels: [32] }, /block_out_channels.*one entry per down block/],
    [{ up_block_types: ['UpBlock2D'] }, /up_block_types/],
    [{ norm_num_groups: 24 }, /multiples of norm_num_groups \(24\)/],
    [{ attention_head_dim: 5 }, /do not split into 5 heads/],
    [{ conv_in_kernel: 2 }, /conv_in_kernel.*odd/],
    [{ use_linear_projection: 'yes' }, /use_linear_projection.*true or false/],
    [{ transformer_layers_per_block: [[1], [2]] }, /transformer_layers_per_block/],
  ])('rejects %j with a clear message', (patch, message) => {
    const json = { ...unetJson(TINY_DIR), ...patch };
    expect(() => parseUNetConfig(json)).toThrow(ConfigError);
    expect(() => parseUNetConfig(json)).toThrow(message);
  });

  it('rejects what is not an object', () => {
    expect(() => parseUNetConfig([1])).toThrow(/expected a JSON object/);
    expect(() => parseUNetConfig(null)).toThrow(/expected a JSON object/);
  });
});

describe('parseVaeConfig / parseClipTextConfig / parseSchedulerConfig', () => {
  it('VAE: real file (0.12-era, fewer keys) gets the defaults; tiny file as written', () => {
    const real = parseVaeConfig(readConfig(REAL_DIR, 'vae'));
    expect(real.block_out_channels).toEqual([128, 256, 512, 512]);
    expect(real.layers_per_block).toBe(2);
    expect(real.scaling_factor).toBe(0.18215); // absent in the file: diffusers' default
    expect(real.use_quant_conv).toBe(true);
    expect(real.mid_block_add_attention).toBe(true);
    const tiny = parseVaeConfig(readConfig(TINY_DIR, 'vae'));
    expect(tiny.block_out_channels).toEqual([32, 32, 32, 32]);
    expect(tiny.layers_per_block).toBe(1);
    expect(tiny.shift_factor).toBeNull();
    const d = parseVaeConfig({});
    expect([d.block_out_channels, d.layers_per_block, d.latent_channels, d.sample_size]).toEqual([[64], 1, 4, 32]);
    expect(() => parseVaeConfig({ latents_mean: [0, 0, 0, 0] })).toThrow(/latents_mean.*not supported/);
    expect(() => parseVaeConfig({ block_out_channels: [32, 32], down_block_types: ['DownEncoderBlock2D'] })).toThrow(/down_block_types/);
    expect(() => parseVaeConfig({ up_block_types: ['AttnUpDecoderBlock2D'] })).toThrow(/up_block_types/);
  });

  it('CLIP: real and tiny files, transformers defaults, activation and head checks', () => {
    const real = parseClipTextConfig(readConfig(REAL_DIR, 'text_encoder'));
    expect([real.hidden_size, real.intermediate_size, real.num_hidden_layers, real.num_attention_heads]).toEqual([768, 3072, 12, 12]);
    expect(real.hidden_act).toBe('quick_gelu');
    expect(real.eos_token_id).toBe(2); // legacy value: pooling then takes the argmax of the ids
    const tiny = parseClipTextConfig(readConfig(TINY_DIR, 'text_encoder'));
    expect([tiny.hidden_size, tiny.num_hidden_layers, tiny.num_attention_heads, tiny.vocab_size]).toEqual([32, 2, 4, 49408]);
    const d = parseClipTextConfig({});
    expect([d.hidden_size, d.intermediate_size, d.num_attention_heads, d.max_position_embeddings, d.eos_token_id]).toEqual([
      512, 2048, 8, 77, 49407,
    ]);
    expect(parseClipTextConfig({ hidden_act: 'gelu' }).hidden_act).toBe('gelu');
    expect(() => parseClipTextConfig({ hidden_act: 'relu' })).toThrow(/hidden_act/);
    expect(() => parseClipTextConfig({ hidden_size: 30, num_attention_heads: 4 })).toThrow(/does not split into 4 heads/);
    expect(() => parseClipTextConfig({ model_type: 'bert' })).toThrow(/not a CLIP text model/);
  });

  it('scheduler: real file with foreign keys (solver_order...) ignored, defaults otherwise', () => {
    const real = parseSchedulerConfig(readConfig(REAL_DIR, 'scheduler', 'scheduler_config.json'));
    expect(real._class_name).toBe('EulerAncestralDiscreteScheduler');
    expect([real.beta_start, real.beta_end, real.beta_schedule]).toEqual([0.00085, 0.012, 'scaled_linear']);
    expect(real.timestep_spacing).toBe('linspace'); // absent: the default
    expect(real.steps_offset).toBe(1);
    const d = parseSchedulerConfig({});
    expect([d.num_train_timesteps, d.beta_start, d.beta_end, d.beta_schedule, d.prediction_type]).toEqual([
      1000, 0.0001, 0.02, 'linear', 'epsilon',
    ]);
    expect(() => parseSchedulerConfig({ prediction_type: 'sample' })).toThrow(/prediction_type/);
    expect(() => parseSchedulerConfig({ trained_betas: [0.1, 0.2] })).toThrow(/trained_betas/);
  });
});

describe('real-scale shape check (no weights): parameter counts of the instruct-pix2pix text encoder and VAE', () => {
  it('CLIPTextModel: 123,060,480 parameters (position_ids is not a parameter)', () => {
    const vb = VarBuilder.from(null, null);
    const m = new CLIPTextModel(vb, parseClipTextConfig(readConfig(REAL_DIR, 'text_encoder')));
    expect(vb.paramCount).toBe(123_060_480);
    expect(m.text_model.token_embedding.shape).toEqual([49408, 768]);
    expect(m.text_model.layers.length).toBe(12);
  });

  it('AutoencoderKL: 83,653,863 parameters = encoder 34,163,592 + decoder 49,490,179 + quant convs 72 + 20', () => {
    const cfg = parseVaeConfig(readConfig(REAL_DIR, 'vae'));
    const all = VarBuilder.from(null, null);
    const vae = new AutoencoderKL(all, cfg);
    expect(all.paramCount).toBe(83_653_863);
    const enc = VarBuilder.from(null, null);
    new Encoder(enc, cfg);
    expect(enc.paramCount).toBe(34_163_592);
    const dec = VarBuilder.from(null, null);
    new Decoder(dec, cfg);
    expect(dec.paramCount).toBe(49_490_179);
    expect(vae.downscale).toBe(8);
    expect(vae.decoder.up_blocks.map((b) => b.resnets.length)).toEqual([3, 3, 3, 3]);
    expect(vae.decoder.up_blocks.map((b) => b.upsamplers.length)).toEqual([1, 1, 1, 0]);
    expect(vae.encoder.down_blocks.map((b) => b.downsamplers.length)).toEqual([1, 1, 1, 0]);
  });
});
