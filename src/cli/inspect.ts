// `retouch inspect --model DIR`: what a pipeline folder holds (components, key config values, weight files with
// dtypes, tensor counts and sizes) without reading any tensor data, so a wrong or partial download shows at once.
import {
  nodeFolderSource,
  openWeightFiles,
  readPipelineConfigs,
  urlSource,
  type Variant,
  type WeightFileInfo,
} from '../engine/weights/diffusers.ts';
import { formatFlags, parseArgs, required, UsageError, type FlagSpecs } from './args.ts';

/** Config keys worth a glance per component (raw diffusers/transformers names). */
const CONFIG_KEYS: Record<string, string[]> = {
  unet: ['in_channels', 'out_channels', 'block_out_channels', 'layers_per_block', 'down_block_types', 'up_block_types',
    'attention_head_dim', 'num_attention_heads', 'cross_attention_dim', 'use_linear_projection', 'norm_num_groups', 'sample_size'],
  vae: ['block_out_channels', 'layers_per_block', 'latent_channels', 'norm_num_groups', 'scaling_factor', 'sample_size'],
  text_encoder: ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'intermediate_size', 'hidden_act',
    'max_position_embeddings', 'vocab_size', 'eos_token_id'],
  scheduler: ['_class_name', 'num_train_timesteps', 'beta_schedule', 'beta_start', 'beta_end', 'prediction_type',
    'timestep_spacing', 'steps_offset'],
};

const FLAGS = {
  model: { type: 'string', short: 'm', value: 'DIR|URL', help: 'diffusers pipeline folder, or its base URL (files by HTTP Range)' },
  variant: { type: 'string', value: 'fp16|fp32|auto', help: 'weight files to describe (default auto: fp16 where present)' },
} satisfies FlagSpecs;

export const usage = `usage: retouch inspect --model DIR|URL [--variant fp16|fp32|auto]
Prints the components, key config values and, per weight file, dtypes, tensor count and size (no tensor is read).
${formatFlags(FLAGS)}`;

const fmt = (v: unknown) => (Array.isArray(v) ? `[${v.join(', ')}]` : String(v));
const count = (n: number) => n.toLocaleString('en-US');
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;
const pad = (s: string, n: number) => s.padEnd(n);

function weightLine(label: string, f: Pick<WeightFileInfo, 'tensors' | 'params' | 'bytes'>, file: string, dtypes: string): string {
  return `  ${pad(label, 13)} ${pad(file, 46)} ${pad(dtypes, 16)} ${count(f.tensors).padStart(5)} tensors ${count(f.params).padStart(14)} params ${mb(f.bytes).padStart(11)}`;
}

/** Usage mistakes throw UsageError (exit 2); a bad folder throws with a message naming what is wrong (main.ts
 * prints it as one line, exit 1). A folder with configs but no weights prints the configs first. */
export async function runInspect(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, FLAGS);
  const model = required(flags.model, 'model');
  const variant = flags.variant ?? 'auto';
  if (variant !== 'fp16' && variant !== 'fp32' && variant !== 'auto') throw new UsageError(`--variant must be fp16, fp32 or auto, got ${JSON.stringify(variant)}`);
  if (positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
  const source = /^https?:\/\//.test(model) ? urlSource(model) : nodeFolderSource(model);
  const info = await readPipelineConfigs(source);
  const { modelIndex, configs, tokenizer } = info;
  const out: string[] = [];
  out.push(`model     ${info.source}`);
  out.push(`pipeline  ${modelIndex._class_name}${modelIndex._diffusers_version ? ` (diffusers ${modelIndex._diffusers_version})` : ''}`);
  out.push('components');
  const absent: string[] = [];
  for (const [name, v] of Object.entries(modelIndex)) {
    if (name.startsWith('_') || !Array.isArray(v)) continue;
    if (v[1] === null || v[1] === undefined) absent.push(name);
    else out.push(`  ${pad(name, 18)} ${v[0]} ${v[1]}`);
  }
  if (absent.length) out.push(`  (none: ${absent.join(', ')})`);
  out.push('config');
  for (const [name, keys] of Object.entries(CONFIG_KEYS)) {
    const cfg = configs[name as keyof typeof configs];
    const shown = keys.filter((k) => cfg[k] !== undefined && cfg[k] !== null).map((k) => `${k} ${fmt(cfg[k])}`);
    out.push(`  ${pad(name, 13)} ${shown.join(', ')}`);
  }
  const maxLen = tokenizer.config.model_max_length;
  out.push(`  ${pad('tokenizer', 13)} vocab ${count(Object.keys(tokenizer.vocab).length)}, merges ${count(tokenizer.merges.length)}` +
    (maxLen !== undefined ? `, model_max_length ${maxLen}` : ''));
  out.push(`weights (variant ${variant})`);
  let files: WeightFileInfo[];
  try {
    files = (await openWeightFiles(source, variant as Variant)).files;
  } catch (e) {
    process.stdout.write(out.join('\n') + '\n');
    throw e;
  }
  for (const f of files) {
    const dtypes = Object.entries(f.dtypes).map(([d, n]) => `${d} ${n}`).join(', ');
    out.push(weightLine(f.component, f, f.path, dtypes));
    if (f.extras.length) out.push(`  ${pad('', 13)} (ignored extras: ${f.extras.join(', ')})`);
  }
  const total = files.reduce((a, f) => ({ tensors: a.tensors + f.tensors, params: a.params + f.params, bytes: a.bytes + f.bytes }),
    { tensors: 0, params: 0, bytes: 0 });
  out.push(weightLine('total', total, '', ''));
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}
