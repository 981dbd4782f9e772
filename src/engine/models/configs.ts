// Typed model configs read from config.json (never inferred from weight shapes). Field names are the diffusers /
// transformers config keys; absent keys take the reference constructors' defaults (diffusers 0.30, transformers
// 4.44). Per-block settings given as one number are expanded to one entry per down block. Values this engine
// does not implement are rejected here with a message, instead of being silently computed as something else.

type Json = Record<string, unknown>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

// ---- UNet2DConditionModel ------------------------------------------------------------------------------------

export type UNetDownBlockType = 'CrossAttnDownBlock2D' | 'DownBlock2D';
export type UNetUpBlockType = 'CrossAttnUpBlock2D' | 'UpBlock2D';
export type UNetMidBlockType = 'UNetMidBlock2DCrossAttn' | 'UNetMidBlock2D';

export interface UNet2DConditionConfig {
  in_channels: number;
  out_channels: number;
  sample_size: number | null;
  center_input_sample: boolean;
  flip_sin_to_cos: boolean;
  freq_shift: number;
  down_block_types: UNetDownBlockType[];
  /** null: no mid block (diffusers allows it). */
  mid_block_type: UNetMidBlockType | null;
  up_block_types: UNetUpBlockType[];
  block_out_channels: number[];
  /** Per down block (up blocks use the reversed list, + 1 resnet each). */
  layers_per_block: number[];
  /** Per down block. */
  only_cross_attention: boolean[];
  /** only_cross_attention of the mid block (diffusers: the bool only_cross_attention when given as one, else false). */
  mid_block_only_cross_attention: boolean;
  /** Per down block. */
  cross_attention_dim: number[];
  /** Per down block. */
  transformer_layers_per_block: number[];
  /** Per down block, as written in the config (SD1.5 configs misuse it as the head count). */
  attention_head_dim: number[];
  /** Per down block: the NUMBER of heads = num_attention_heads ?? attention_head_dim; head dim = channels / heads. */
  num_attention_heads: number[];
  downsample_padding: number;
  mid_block_scale_factor: number;
  act_fn: 'silu';
  norm_num_groups: number;
  norm_eps: number;
  use_linear_projection: boolean;
  /** Softmax in f32 for fp16 compute; our attention accumulates in f32 either way. */
  upcast_attention: boolean;
  resnet_time_scale_shift: 'default';
  resnet_out_scale_factor: number;
  time_embedding_type: 'positional';
  /** Width of the time embedding MLP output; null = 4 * block_out_channels[0]. */
  time_embedding_dim: number | null;
  conv_in_kernel: number;
  conv_out_kernel: number;
  class_embed_type: null;
  addition_embed_type: null;
}

// ---- AutoencoderKL -------------------------------------------------------------------------------------------

export interface AutoencoderKLConfig {
  in_channels: number;
  out_channels: number;
  down_block_types: 'DownEncoderBlock2D'[];
  up_block_types: 'UpDecoderBlock2D'[];
  block_out_channels: number[];
  layers_per_block: number;
  act_fn: 'silu';
  latent_channels: number;
  norm_num_groups: number;
  sample_size: number;
  scaling_factor: number;
  shift_factor: number | null;
  force_upcast: boolean;
  use_quant_conv: boolean;
  use_post_quant_conv: boolean;
  mid_block_add_attention: boolean;
}

// ---- CLIPTextModel -------------------------------------------------------------------------------------------

export interface CLIPTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  projection_dim: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: 'quick_gelu' | 'gelu';
  layer_norm_eps: number;
  pad_token_id: number;
  bos_token_id: number;
  eos_token_id: number;
}

// ---- EulerAncestralDiscreteScheduler (and the keys the schedulers share) -------------------------------------

export interface SchedulerConfig {
  _class_name: string | null;
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  trained_betas: number[] | null;
  prediction_type: 'epsilon' | 'v_prediction';
  timestep_spacing: 'linspace' | 'leading' | 'trailing';
  steps_offset: number;
  rescale_betas_zero_snr: boolean;
}

// ---- readers ---------------------------------------------------------------------------------------------------

/** Reads keys of one config.json with defaults, naming the file and key in every error. */
class Reader {
  constructor(
    private readonly what: string,
    private readonly json: Json,
  ) {}

  fail(key: string, expected: string): never {
    throw new ConfigError(`${this.what}: "${key}" must be ${expected}, got ${JSON.stringify(this.json[key])}`);
  }
  raw(key: string): unknown {
    return this.json[key];
  }
  /** Present and not null. */
  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }
  num(key: string, def: number): number {
    if (!this.has(key)) return def;
    const v = this.json[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a number');
    return v;
  }
  int(key: string, def: number, min = 1): number {
    const v = this.num(key, def);
    if (!Number.isInteger(v) || v < min) this.fail(key, `an integer >= ${min}`);
    return v;
  }
  intOrNull(key: string, min = 1): number | null {
    return this.has(key) ? this.int(key, 0, min) : null;
  }
  numOrNull(key: string): number | null {
    return this.has(key) ? this.num(key, 0) : null;
  }
  bool(key: string, def: boolean): boolean {
    if (!this.has(key)) return def;
    const v = this.json[key];
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }
  str<T extends string>(key: string, def: T, allowed: readonly T[]): T {
    if (!this.has(key)) return def;
    const v = this.json[key];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(key, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')} (others are not supported)`);
    }
    return v as T;
  }
  strOrNull<T extends string>(key: string, allowed: readonly T[]): T | null {
    return this.has(key) ? this.str(key, allowed[0], allowed) : null;
  }
  strList<T extends string>(key: string, def: readonly T[], allowed: readonly T[]): T[] {
    if (!this.has(key)) return [...def];
    const v = this.json[key];
    const ok = Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && allowed.includes(s as T));
    if (!ok) this.fail(key, `a non-empty list of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    return [...(v as T[])];
  }
  intList(key: string, def: readonly number[], min = 1): number[] {
    if (!this.has(key)) return [...def];
    const v = this.json[key];
    const ok = Array.isArray(v) && v.length > 0 && v.every((n) => Number.isInteger(n) && (n as number) >= min);
    if (!ok) this.fail(key, `a non-empty list of integers >= ${min}`);
    return [...(v as number[])];
  }
  /** A number applied to every block, or one per block. */
  perBlockInt(key: string, def: number | null, blocks: number, min = 1): number[] | null {
    if (!this.has(key)) return def === null ? null : new Array<number>(blocks).fill(def);
    const v = this.json[key];
    if (Number.isInteger(v) && (v as number) >= min) return new Array<number>(blocks).fill(v as number);
    if (Array.isArray(v)) {
      if (v.length !== blocks) this.fail(key, `a number or a list with one entry per down block (${blocks})`);
      if (!v.every((n) => Number.isInteger(n) && (n as number) >= min)) this.fail(key, `integers >= ${min}`);
      return [...(v as number[])];
    }
    return this.fail(key, `an integer >= ${min} or a list of them (one per down block)`);
  }
  perBlockBool(key: string, def: boolean, blocks: number): boolean[] {
    if (!this.has(key)) return new Array<boolean>(blocks).fill(def);
    const v = this.json[key];
    if (typeof v === 'boolean') return new Array<boolean>(blocks).fill(v);
    if (Array.isArray(v) && v.length === blocks && v.every((b) => typeof b === 'boolean')) return [...(v as boolean[])];
    return this.fail(key, `true, false or a list of ${blocks} of them`);
  }
  /** Keys whose only supported value is the default (null/false/a fixed string). */
  only(key: string, supported: unknown, why: string): void {
    const v = this.json[key];
    if (v === undefined || v === null || v === supported) return;
    throw new ConfigError(`${this.what}: "${key}" = ${JSON.stringify(v)} is not supported (${why})`);
  }
}

function asObject(what: string, json: unknown): Json {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`${what}: expected a JSON object`);
  }
  return json as Json;
}

export function parseUNetConfig(json: unknown): UNet2DConditionConfig {
  const what = 'unet/config.json';
  const r = new Reader(what, asObject(what, json));
  const down_block_types = r.strList<UNetDownBlockType>(
    'down_block_types',
    ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
    ['CrossAttnDownBlock2D', 'DownBlock2D'],
  );
  const n = down_block_types.length;
  const up_block_types = r.strList<UNetUpBlockType>(
    'up_block_types',
    ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
    ['CrossAttnUpBlock2D', 'UpBlock2D'],
  );
  const block_out_channels = r.intList('block_out_channels', [320, 640, 1280, 1280]);
  if (up_block_types.length !== n) r.fail('up_block_types', `as many entries as down_block_types (${n})`);
  if (block_out_channels.length !== n) r.fail('block_out_channels', `one entry per down block (${n})`);

  const attention_head_dim = r.perBlockInt('attention_head_dim', 8, n)!;
  const num_attention_heads = r.perBlockInt('num_attention_heads', null, n) ?? attention_head_dim;
  const only_cross_attention = r.perBlockBool('only_cross_attention', false, n);
  const oca = r.raw('only_cross_attention');
  const midOcaDefault = typeof oca === 'boolean' ? oca : false;

  r.only('class_embed_type', null, 'no class embedding is implemented');
  r.only('num_class_embeds', null, 'no class embedding is implemented');
  r.only('addition_embed_type', null, 'no added (text/time) embedding is implemented');
  r.only('encoder_hid_dim', null, 'no encoder_hid_proj is implemented');
  r.only('encoder_hid_dim_type', null, 'no encoder_hid_proj is implemented');
  r.only('time_cond_proj_dim', null, 'no timestep condition projection is implemented');
  r.only('timestep_post_act', null, 'no activation after the time embedding is implemented');
  r.only('time_embedding_act_fn', null, 'no activation before the time embedding is implemented');
  r.only('dual_cross_attention', false, 'dual cross attention is not implemented');
  r.only('resnet_skip_time_act', false, 'resnets always apply SiLU to the time embedding');
  r.only('attention_type', 'default', 'only the default attention (no gated/IP adapters)');
  r.only('cross_attention_norm', null, 'no cross-attention norm is implemented');
  r.only('reverse_transformer_layers_per_block', null, 'up blocks reuse transformer_layers_per_block reversed');
  r.only('class_embeddings_concat', false, 'no class embedding is implemented');

  const cfg: UNet2DConditionConfig = {
    in_channels: r.int('in_channels', 4),
    out_channels: r.int('out_channels', 4),
    sample_size: r.intOrNull('sample_size'),
    center_input_sample: r.bool('center_input_sample', false),
    flip_sin_to_cos: r.bool('flip_sin_to_cos', true),
    freq_shift: r.num('freq_shift', 0),
    down_block_types,
    // absent: the default block; an explicit null: no mid block
    mid_block_type:
      r.raw('mid_block_type') === null
        ? null
        : r.str<UNetMidBlockType>('mid_block_type', 'UNetMidBlock2DCrossAttn', [
            'UNetMidBlock2DCrossAttn',
            'UNetMidBlock2D',
          ]),
    up_block_types,
    block_out_channels,
    layers_per_block: r.perBlockInt('layers_per_block', 2, n)!,
    only_cross_attention,
    mid_block_only_cross_attention: r.bool('mid_block_only_cross_attention', midOcaDefault),
    cross_attention_dim: r.perBlockInt('cross_attention_dim', 1280, n)!,
    transformer_layers_per_block: r.perBlockInt('transformer_layers_per_block', 1, n)!,
    attention_head_dim,
    num_attention_heads,
    downsample_padding: r.int('downsample_padding', 1, 0),
    mid_block_scale_factor: r.num('mid_block_scale_factor', 1),
    act_fn: r.str('act_fn', 'silu', ['silu']),
    norm_num_groups: r.int('norm_num_groups', 32),
    norm_eps: r.num('norm_eps', 1e-5),
    use_linear_projection: r.bool('use_linear_projection', false),
    upcast_attention: r.bool('upcast_attention', false),
    resnet_time_scale_shift: r.str('resnet_time_scale_shift', 'default', ['default']),
    resnet_out_scale_factor: r.num('resnet_out_scale_factor', 1),
    time_embedding_type: r.str('time_embedding_type', 'positional', ['positional']),
    time_embedding_dim: r.intOrNull('time_embedding_dim'),
    conv_in_kernel: r.int('conv_in_kernel', 3),
    conv_out_kernel: r.int('conv_out_kernel', 3),
    class_embed_type: null,
    addition_embed_type: null,
  };
  if (cfg.conv_in_kernel % 2 !== 1) r.fail('conv_in_kernel', 'odd');
  if (cfg.conv_out_kernel % 2 !== 1) r.fail('conv_out_kernel', 'odd');
  const groups = cfg.norm_num_groups;
  block_out_channels.forEach((c, i) => {
    if (c % groups !== 0) r.fail('block_out_channels', `multiples of norm_num_groups (${groups}); entry ${i} is ${c}`);
    if (c % num_attention_heads[i] !== 0) {
      throw new ConfigError(`${what}: block ${i}: ${c} channels do not split into ${num_attention_heads[i]} heads`);
    }
  });
  return cfg;
}

export function parseVaeConfig(json: unknown): AutoencoderKLConfig {
  const what = 'vae/config.json';
  const r = new Reader(what, asObject(what, json));
  const down_block_types = r.strList('down_block_types', ['DownEncoderBlock2D'], ['DownEncoderBlock2D'] as const);
  const up_block_types = r.strList('up_block_types', ['UpDecoderBlock2D'], ['UpDecoderBlock2D'] as const);
  const block_out_channels = r.intList('block_out_channels', [64]);
  const n = block_out_channels.length;
  if (down_block_types.length !== n) r.fail('down_block_types', `one entry per block_out_channels entry (${n})`);
  if (up_block_types.length !== n) r.fail('up_block_types', `one entry per block_out_channels entry (${n})`);
  r.only('latents_mean', null, 'latent normalization by mean/std is not implemented');
  r.only('latents_std', null, 'latent normalization by mean/std is not implemented');
  const cfg: AutoencoderKLConfig = {
    in_channels: r.int('in_channels', 3),
    out_channels: r.int('out_channels', 3),
    down_block_types,
    up_block_types,
    block_out_channels,
    layers_per_block: r.int('layers_per_block', 1),
    act_fn: r.str('act_fn', 'silu', ['silu']),
    latent_channels: r.int('latent_channels', 4),
    norm_num_groups: r.int('norm_num_groups', 32),
    sample_size: r.int('sample_size', 32),
    scaling_factor: r.num('scaling_factor', 0.18215),
    shift_factor: r.numOrNull('shift_factor'),
    force_upcast: r.bool('force_upcast', true),
    use_quant_conv: r.bool('use_quant_conv', true),
    use_post_quant_conv: r.bool('use_post_quant_conv', true),
    mid_block_add_attention: r.bool('mid_block_add_attention', true),
  };
  block_out_channels.forEach((c, i) => {
    if (c % cfg.norm_num_groups !== 0) {
      r.fail('block_out_channels', `multiples of norm_num_groups (${cfg.norm_num_groups}); entry ${i} is ${c}`);
    }
  });
  return cfg;
}

export function parseClipTextConfig(json: unknown): CLIPTextConfig {
  const what = 'text_encoder/config.json';
  const obj = asObject(what, json);
  const r = new Reader(what, obj);
  if (typeof obj['model_type'] === 'string' && !['clip_text_model', 'clip'].includes(obj['model_type'])) {
    throw new ConfigError(`${what}: model_type ${JSON.stringify(obj['model_type'])} is not a CLIP text model`);
  }
  const cfg: CLIPTextConfig = {
    vocab_size: r.int('vocab_size', 49408),
    hidden_size: r.int('hidden_size', 512),
    intermediate_size: r.int('intermediate_size', 2048),
    projection_dim: r.int('projection_dim', 512),
    num_hidden_layers: r.int('num_hidden_layers', 12),
    num_attention_heads: r.int('num_attention_heads', 8),
    max_position_embeddings: r.int('max_position_embeddings', 77),
    hidden_act: r.str<'quick_gelu' | 'gelu'>('hidden_act', 'quick_gelu', ['quick_gelu', 'gelu']),
    layer_norm_eps: r.num('layer_norm_eps', 1e-5),
    pad_token_id: r.int('pad_token_id', 1, 0),
    bos_token_id: r.int('bos_token_id', 49406, 0),
    eos_token_id: r.int('eos_token_id', 49407, 0),
  };
  if (cfg.hidden_size % cfg.num_attention_heads !== 0) {
    throw new ConfigError(`${what}: hidden_size ${cfg.hidden_size} does not split into ${cfg.num_attention_heads} heads`);
  }
  return cfg;
}

export function parseSchedulerConfig(json: unknown): SchedulerConfig {
  const what = 'scheduler/scheduler_config.json';
  const obj = asObject(what, json);
  const r = new Reader(what, obj);
  let trained_betas: number[] | null = null;
  if (r.has('trained_betas')) {
    const v = obj['trained_betas'];
    if (!Array.isArray(v) || !v.every((b) => typeof b === 'number' && b > 0 && b < 1)) {
      r.fail('trained_betas', 'null or a list of numbers in (0, 1)');
    }
    trained_betas = [...(v as number[])];
  }
  const cls = obj['_class_name'];
  if (cls !== undefined && typeof cls !== 'string') r.fail('_class_name', 'a string');
  const cfg: SchedulerConfig = {
    _class_name: typeof cls === 'string' ? cls : null,
    num_train_timesteps: r.int('num_train_timesteps', 1000),
    beta_start: r.num('beta_start', 0.0001),
    beta_end: r.num('beta_end', 0.02),
    beta_schedule: r.str('beta_schedule', 'linear', ['linear', 'scaled_linear', 'squaredcos_cap_v2']),
    trained_betas,
    prediction_type: r.str('prediction_type', 'epsilon', ['epsilon', 'v_prediction']),
    timestep_spacing: r.str('timestep_spacing', 'linspace', ['linspace', 'leading', 'trailing']),
    steps_offset: r.int('steps_offset', 0, 0),
    rescale_betas_zero_snr: r.bool('rescale_betas_zero_snr', false),
  };
  if (trained_betas && trained_betas.length !== cfg.num_train_timesteps) {
    r.fail('trained_betas', `a list of num_train_timesteps (${cfg.num_train_timesteps}) betas`);
  }
  return cfg;
}
