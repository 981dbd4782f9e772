// `retouch bench`: measurements of the engine, one mode per flag. Each mode is a row of MODES with its own flags
// and runner (kept in its own function or file), so modes join without touching each other:
//   --meter   the cost meter: an edit planned on the counting backend (no weights, no GPU), see engine/meter.ts
// (--peer, --real-scale and --tiny-edit live in bench_*.ts files; with no mode flag, per-op throughput.)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { planEdit, STAGES, type EditPlan } from '../engine/meter.ts';
import { formatFlags, parseArgs, required, UsageError, type FlagSpecs } from './args.ts';
import * as ops from './bench_ops.ts';
import * as peer from './bench_peer.ts';
import * as realScale from './bench_real_scale.ts';
import * as tinyEdit from './bench_tiny_edit.ts';

interface Mode {
  summary: string;
  flags: FlagSpecs;
  /** argv without the mode flag -> exit code. */
  run: (argv: string[]) => Promise<number>;
}

// ---- --meter ---------------------------------------------------------------------------------------------------
const METER_FLAGS = {
  model: { type: 'string', short: 'm', value: 'DIR', help: 'diffusers model folder (only the config.json files are read)' },
  size: { type: 'number', value: 'N', help: 'image side in pixels (default 512: a 64x64 latent)' },
  steps: { type: 'number', value: 'N', help: 'denoising steps, at least 2 (default 20)' },
  f16: { type: 'boolean', help: 'the f16 path (the default): f16 activations, as on adapters with shader-f16' },
  f32: { type: 'boolean', help: 'the f32-activation path, as on adapters without shader-f16 (weights stay f16)' },
  weights: { type: 'string', value: 'f16|f32', help: 'weight storage (default f16; f32 = fp32 files kept as f32)' },
  preview: { type: 'boolean', help: 'read a preview back after every step, as the app does' },
  json: { type: 'boolean', help: 'print exactly one JSON object on stdout' },
} satisfies FlagSpecs;

function readConfig(dir: string, file: string): Record<string, unknown> {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`${path} not found (is ${dir} a diffusers model folder?)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

async function runMeter(argv: string[]): Promise<number> {
  const { flags, positional } = parseArgs(argv, METER_FLAGS);
  if (positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
  if (flags.f16 && flags.f32) throw new UsageError('--f16 and --f32 exclude each other');
  const weights = flags.weights ?? 'f16';
  if (weights !== 'f16' && weights !== 'f32') throw new UsageError(`--weights must be f16 or f32, got ${JSON.stringify(weights)}`);
  const dir = required(flags.model, 'model');
  const size = flags.size ?? 512;
  const steps = flags.steps ?? 20;
  if (!Number.isInteger(size) || size < 8) throw new UsageError(`--size must be an integer >= 8, got ${size}`);
  if (!Number.isInteger(steps) || steps < 2) throw new UsageError(`--steps must be an integer >= 2, got ${steps}`);
  const configs = {
    unet: readConfig(dir, 'unet/config.json'),
    vae: readConfig(dir, 'vae/config.json'),
    text_encoder: readConfig(dir, 'text_encoder/config.json'),
    scheduler: readConfig(dir, 'scheduler/scheduler_config.json'),
  };
  const activationDtype = flags.f32 ? 'f32' : 'f16';
  const plan = await planEdit({ configs, size, steps, f16: weights === 'f16', activationDtype, preview: flags.preview });
  process.stdout.write(flags.json ? JSON.stringify(plan) + '\n' : meterTable(plan, dir));
  return 0;
}

const tf = (n: number) => `${(n / 1e12).toFixed(3)} TFLOP`;
const gb = (n: number) => `${(n / 1e9).toFixed(3)} GB`;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const int = (n: number) => n.toLocaleString('en-US');

function meterTable(p: EditPlan, dir: string): string {
  const rows: [string, string][] = [
    ['model', dir],
    ['image / latent', `${p.size}x${p.size} / ${p.latent.join('x')}, ${p.steps} steps, UNet batch ${p.batch}`],
    ['weights / activations', `${p.weight_dtype} / ${p.activation_dtype}`],
    ['', ''],
    ['FLOPs, edit', tf(p.flops)],
    ...STAGES.map((s): [string, string] => [`  ${s}`, `${tf(p.flops_by_stage[s])}  (${int(p.dispatches_by_stage[s])} dispatches)`]),
    ['  UNet, per evaluation', tf(p.flops_per_unet_evaluation)],
    ...Object.entries(p.flops_by_kind)
      .sort((a, b) => b[1] - a[1])
      .map(([k, f]): [string, string] => [`  op ${k}`, `${tf(f)}  (${int(p.dispatches_by_kind[k] ?? 0)} dispatches)`]),
    ['', ''],
    ['weights', `${gb(p.weight_bytes)}  (UNet ${gb(p.weight_bytes_by_component.unet)}, VAE ${gb(p.weight_bytes_by_component.vae)}, ` +
      `text encoder ${gb(p.weight_bytes_by_component.text_encoder)})`],
    ['peak GPU memory', `${gb(p.peak_bytes)}  (weights ${gb(p.peak_weight_bytes)}, activations ${gb(p.peak_bytes - p.peak_weight_bytes)})`],
    ['largest buffer', `${mib(p.max_buffer_bytes)}  (${p.max_buffer})`],
    ['largest binding', `${mib(p.max_binding_bytes)}  (${p.max_binding.op} [${p.max_binding.shape.join(',')}])`],
    ['per stage: peak / binding', `(peak includes the weights; ${p.grow_trims} grow-trims)`],
    ...STAGES.map((s): [string, string] => {
      const b = p.max_binding_by_stage[s];
      return [`  ${s}`, `${gb(p.peak_bytes_by_stage[s])} / ${mib(b.bytes)}  (${b.op} [${b.shape.join(',')}])`];
    }),
    ['', ''],
    ['per step: dispatches', int(p.dispatches_per_step)],
    ['  submits / readbacks', `${p.submits_per_step} / ${p.readbacks_per_step}`],
    ['  bytes read / written', `${gb(p.bytes_read_per_step)} / ${gb(p.bytes_written_per_step)}`],
    ['  FLOPs', tf(p.flops_per_step)],
    ['edit: dispatches', `${int(p.dispatches)}  (${p.submits} submits, ${p.readbacks} readbacks)`],
  ];
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, v]) => (l || v ? `${l.padEnd(width)}  ${v}` : '')).join('\n') + '\n';
}

// ---- the modes -------------------------------------------------------------------------------------------------
const MODES: Record<string, Mode> = {
  meter: { summary: 'plan an edit on the counting backend: FLOPs, dispatches, submits, GPU memory', flags: METER_FLAGS, run: runMeter },
  peer: peer,
  'real-scale': realScale,
  'tiny-edit': tinyEdit,
};
/** With no mode flag: per-op throughput on the Node WebGPU adapter. */
const DEFAULT_MODE: Mode = ops;

export const usage = [
  'usage: retouch bench [MODE] [OPTIONS]',
  'modes:',
  `  (none)  ${DEFAULT_MODE.summary}\n${formatFlags(DEFAULT_MODE.flags)}`,
  ...Object.entries(MODES).map(([name, m]) => `  --${name}  ${m.summary}\n${formatFlags(m.flags)}`),
].join('\n');

export async function runBench(argv: string[]): Promise<number> {
  const flagsPart = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  const chosen = Object.keys(MODES).filter((m) => flagsPart.includes(`--${m}`));
  const names = Object.keys(MODES).map((m) => `--${m}`).join(', ');
  if (chosen.length > 1) throw new UsageError(`choose one mode of ${names}, got ${chosen.map((m) => `--${m}`).join(' ')}`);
  if (chosen.length === 0) return DEFAULT_MODE.run(argv);
  const mode = chosen[0];
  return MODES[mode].run(argv.filter((a) => a !== `--${mode}`));
}
