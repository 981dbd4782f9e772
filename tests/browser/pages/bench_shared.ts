// What the peer benchmark page (bench.ts) and its Node driver (src/cli/bench_peer.ts) share: the arguments and
// result of window.__bench.peer, the block's config as read from sd15_down0.config.json, and the error measure.
import type { DownBlockConfig } from '../../../src/engine/models/unet_2d_blocks.ts';

export const OUTPUTS = ['res_0', 'res_1', 'hidden_states_out'] as const;
export type OutputName = (typeof OUTPUTS)[number];

export interface PeerArgs {
  /** URL prefix of the ../shared/bench files. */
  dataUrl: string;
  /** URL prefix of onnxruntime-web's dist/ folder (its .wasm files). */
  wasmUrl: string;
  /** Latent side: 32 (the graph with goldens) or 64. */
  size: number;
  warmup: number;
  /** Timed runs wanted per engine ... */
  runs: number;
  /** ... but no new run starts once this many ms of timed runs are spent (at least one run is made). */
  budgetMs: number;
}

export interface EngineTiming {
  adapter: string;
  /** Building the model and uploading its weights (ORT: session creation). */
  load_ms: number;
  /** Each timed run, in order. */
  runs_ms: number[];
  warmup_ms: number[];
}

/** max|a - b| and the reference's std; rel = max_abs / std. */
export interface ErrorStat {
  max_abs: number;
  std: number;
  rel: number;
}

export interface PeerPageResult {
  size: number;
  ours: EngineTiming;
  ort: EngineTiming & { version: string };
  /** Per output: each engine against PyTorch (null without goldens), and ours against ORT. */
  errors: Record<OutputName, { ours: ErrorStat | null; ort: ErrorStat | null; ours_vs_ort: ErrorStat }>;
  /** Where the inputs came from. */
  inputs: 'golden' | 'seeded';
}

export function errorStat(ours: Float32Array, ref: Float32Array): ErrorStat {
  if (ours.length !== ref.length) throw new Error(`output length ${ours.length}, reference ${ref.length}`);
  let sum = 0;
  for (let i = 0; i < ref.length; i++) sum += ref[i];
  const mean = sum / ref.length;
  let ss = 0;
  let maxAbs = 0;
  for (let i = 0; i < ref.length; i++) {
    ss += (ref[i] - mean) ** 2;
    const d = Math.abs(ours[i] - ref[i]);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
  }
  const std = Math.sqrt(ss / Math.max(1, ref.length - 1));
  return { max_abs: maxAbs, std, rel: maxAbs / std };
}

export /** The block's constructor arguments, read from the recipe's get_down_block kwargs (typed data, not shapes). */
function blockConfig(json: { get_down_block_kwargs?: Record<string, unknown> }): { type: string; config: DownBlockConfig } {
  const k = json.get_down_block_kwargs;
  if (!k) throw new Error('sd15_down0.config.json: no get_down_block_kwargs');
  const num = (key: string) => {
    const v = k[key];
    if (typeof v !== 'number') throw new Error(`sd15_down0.config.json: get_down_block_kwargs.${key} is not a number`);
    return v;
  };
  const bool = (key: string) => {
    const v = k[key];
    if (typeof v !== 'boolean') throw new Error(`sd15_down0.config.json: get_down_block_kwargs.${key} is not a boolean`);
    return v;
  };
  if (k.resnet_act_fn !== 'silu' || k.resnet_time_scale_shift !== 'default') throw new Error('sd15_down0: unsupported resnet settings');
  return {
    type: String(k.down_block_type),
    config: {
      numLayers: num('num_layers'),
      transformerLayersPerBlock: num('transformer_layers_per_block'),
      tembChannels: num('temb_channels'),
      resnetEps: num('resnet_eps'),
      resnetGroups: num('resnet_groups'),
      numAttentionHeads: num('num_attention_heads'),
      crossAttentionDim: num('cross_attention_dim'),
      useLinearProjection: bool('use_linear_projection'),
      onlyCrossAttention: bool('only_cross_attention'),
      inChannels: num('in_channels'),
      outChannels: num('out_channels'),
      addDownsample: bool('add_downsample'),
      downsamplePadding: num('downsample_padding'),
    },
  };
}

