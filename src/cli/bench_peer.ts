// `retouch bench --peer`: our engine against onnxruntime-web's WebGPU EP on the Stable Diffusion 1.5 first down block
// (../shared/bench), in one Chromium page on the same adapter. This side starts Vite + Chromium (the browser test
// harness), serves the data files, runs tests/browser/pages/bench.ts there and prints what it measured.
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Plugin } from 'vite';
import { CountingBackend } from '../engine/ops/counting/backend.ts';
import { getDownBlock } from '../engine/models/unet_2d_blocks.ts';
import { VarBuilder } from '../engine/weights/var_builder.ts';
import { ROOT, startBrowserHarness } from '../../tests/browser/harness.ts';
import { blockConfig, OUTPUTS, type PeerArgs, type PeerPageResult } from '../../tests/browser/pages/bench_shared.ts';
import { formatFlags, parseArgs, UsageError, type FlagSpecs } from './args.ts';
import { fmtMs, formatPairs, formatTable, median, say } from './bench_util.ts';

export const summary = 'SD 1.5 down block 0 (CrossAttnDownBlock2D, batch 3): ours vs onnxruntime-web WebGPU in one Chromium page';

export const flags = {
  size: { type: 'number', value: '32|64', help: 'latent side: 32 (default; checked against PyTorch) or 64 (engines compared)' },
  warmup: { type: 'number', value: 'N', help: 'untimed runs per engine first (default 1)' },
  runs: { type: 'number', value: 'N', help: 'timed runs per engine; medians are reported (default 3)' },
  'budget-s': { type: 'number', value: 'S', help: 'start no further timed run once S seconds are spent per engine (default 120)' },
  data: { type: 'string', value: 'DIR', help: 'the bench files (default <repo>/../shared/bench)' },
  json: { type: 'boolean', help: 'print exactly one JSON object on stdout' },
} satisfies FlagSpecs;

export const usage = `usage: retouch bench --peer [OPTIONS]\n${summary}\n${formatFlags(flags)}`;

/** Our output must be within TOL x std(PyTorch's) of PyTorch's, per output tensor. */
export const TOL = 1e-3;
const BENCH_PAGE = '/tests/browser/pages/bench.html';
const DATA_PREFIX = '/__bench_data/';
const FILES = ['sd15_down0.config.json', 'sd15_down0.weights.safetensors', 'sd15_down0_32.golden.safetensors'];

export interface PeerReport {
  block: string;
  size: number;
  batch: number;
  adapter: string;
  ort_adapter: string;
  same_adapter: boolean;
  ort_version: string;
  warmup: number;
  /** Timed runs asked for; the *_runs_ms arrays hold the runs made within the time budget. */
  runs: number;
  /** Medians, host arrays to host arrays (upload the inputs, run, read the three outputs). */
  ours_ms: number;
  ort_ms: number;
  /** ours_ms / ort_ms: below 1 we are faster. */
  ratio: number;
  ours_runs_ms: number[];
  ort_runs_ms: number[];
  ours_load_ms: number;
  ort_load_ms: number;
  /** FLOPs of one block forward (the counting backend's formulas), and the rate each engine reached. */
  flops: number;
  ours_gflops_per_s: number;
  ort_gflops_per_s: number;
  /** Max over the three outputs of max|x - PyTorch| / std(PyTorch); null without goldens (size 64). */
  ours_max_err: number | null;
  ort_max_err: number | null;
  /** Max over outputs of max|ours - ort| / std(ort). */
  ours_vs_ort_max_err: number;
  tol: number;
  /** ours_max_err <= tol (null without goldens). */
  ours_within_tol: boolean | null;
  errors: PeerPageResult['errors'];
}

/** Serves the files of `dir` under `prefix`, as they are (no Vite transforms). */
function serveDir(prefix: string, dir: string): Plugin {
  return {
    name: 'retouch-bench-data',
    configureServer(server) {
      server.middlewares.use(prefix, (req, res, next) => {
        const name = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\/+/, '');
        if (!/^[\w.-]+$/.test(name)) return next();
        const path = join(dir, name);
        if (!existsSync(path)) {
          res.statusCode = 404;
          res.end(`not found: ${path}`);
          return;
        }
        res.setHeader('Content-Type', name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        res.setHeader('Content-Length', String(statSync(path).size));
        createReadStream(path).pipe(res);
      });
    },
  };
}

/** FLOPs of one forward of the block at this size, on the counting backend with shape-only weights. */
export function blockFlops(configJson: string, size: number): number {
  const { type, config: c } = blockConfig(JSON.parse(configJson));
  const cb = new CountingBackend();
  const block = getDownBlock(type, VarBuilder.from(cb, null), c);
  const input = (shape: number[]) => cb.fromArray(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  const before = cb.ledger.snapshot().flops;
  block.forward(input([3, c.inChannels, size, size]), input([3, c.tembChannels]), input([3, 77, c.crossAttentionDim]));
  return cb.ledger.snapshot().flops - before;
}

function count(v: number | undefined, flag: string, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) throw new UsageError(`--${flag} must be a whole number >= ${min}, got ${v}`);
  return v;
}

export async function run(argv: string[]): Promise<number> {
  const { flags: f, positional } = parseArgs(argv, flags);
  if (positional.length) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
  const size = f.size ?? 32;
  if (size !== 32 && size !== 64) throw new UsageError(`--size must be 32 or 64 (the two ONNX graphs), got ${size}`);
  const warmup = count(f.warmup, 'warmup', 1, 0);
  const runs = count(f.runs, 'runs', 3, 1);
  const budgetS = f['budget-s'] ?? 120;
  if (!(budgetS >= 0)) throw new UsageError(`--budget-s must be >= 0, got ${budgetS}`);
  const dir = resolve(f.data ?? join(ROOT, '..', 'shared', 'bench'));
  const missing = [...FILES, `sd15_down0_${size}.onnx`].filter((n) => !existsSync(join(dir, n)));
  if (missing.length) {
    throw new Error(`peer bench data not found: ${missing.map((n) => join(dir, n)).join(', ')} (the ../shared/bench folder beside the repo, or --data DIR)`);
  }
  const flops = blockFlops(readFileSync(join(dir, 'sd15_down0.config.json'), 'utf8'), size);
  say(`bench --peer: SD 1.5 down block 0 at ${size}x${size}, batch 3 (${(flops / 1e9).toFixed(1)} GFLOP per run); ` +
    `${warmup} warm-up + up to ${runs} runs per engine (no new run after ${budgetS} s); data ${dir}`);
  say('starting Vite + Chromium ...');

  // The harness logs with console.log; here stdout is for the result alone.
  const consoleLog = console.log;
  console.log = (...a: unknown[]) => say(a.map(String).join(' '));
  let page: PeerPageResult;
  try {
    const h = await startBrowserHarness({
      vite: { plugins: [serveDir(DATA_PREFIX, dir)], optimizeDeps: { exclude: ['onnxruntime-web'] } },
    });
    try {
      const p = await h.newPage(BENCH_PAGE);
      p.on('console', (m) => {
        if (m.type() === 'log' && m.text().startsWith('[bench] ')) say(`  ${m.text().slice(8)}`);
      });
      await p.waitForFunction(() => window.__bench !== undefined);
      const args: PeerArgs = { dataUrl: DATA_PREFIX, wasmUrl: '/node_modules/onnxruntime-web/dist/', size, warmup, runs, budgetMs: budgetS * 1000 };
      page = await p.evaluate((a) => window.__bench!.peer(a), args);
    } finally {
      await h.close();
    }
  } finally {
    console.log = consoleLog;
  }

  const rel = (k: 'ours' | 'ort') => (page.inputs === 'golden' ? Math.max(...OUTPUTS.map((n) => page.errors[n][k]!.rel)) : null);
  const oursMs = median(page.ours.runs_ms);
  const ortMs = median(page.ort.runs_ms);
  const oursErr = rel('ours');
  const report: PeerReport = {
    block: 'CrossAttnDownBlock2D (SD 1.5 down_blocks.0: 320 ch, 8 heads, cross 768)',
    size,
    batch: 3,
    adapter: page.ours.adapter,
    ort_adapter: page.ort.adapter,
    same_adapter: page.ours.adapter === page.ort.adapter,
    ort_version: page.ort.version,
    warmup,
    runs,
    ours_ms: oursMs,
    ort_ms: ortMs,
    ratio: oursMs / ortMs,
    ours_runs_ms: page.ours.runs_ms,
    ort_runs_ms: page.ort.runs_ms,
    ours_load_ms: page.ours.load_ms,
    ort_load_ms: page.ort.load_ms,
    flops,
    ours_gflops_per_s: flops / (oursMs * 1e6),
    ort_gflops_per_s: flops / (ortMs * 1e6),
    ours_max_err: oursErr,
    ort_max_err: rel('ort'),
    ours_vs_ort_max_err: Math.max(...OUTPUTS.map((n) => page.errors[n].ours_vs_ort.rel)),
    tol: TOL,
    ours_within_tol: oursErr === null ? null : oursErr <= TOL,
    errors: page.errors,
  };
  process.stdout.write(f.json ? JSON.stringify(report) + '\n' : peerTable(report));
  // A wrong answer is a failed benchmark: the timing of a broken block means nothing.
  return report.ours_within_tol === false ? 1 : 0;
}

const e = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x.toExponential(2));

function peerTable(r: PeerReport): string {
  const head = formatPairs([
    ['block', `${r.block}, ${r.size}x${r.size}, batch ${r.batch}`],
    ['adapter', r.adapter + (r.same_adapter ? ' (both engines)' : `; ORT: ${r.ort_adapter}`)],
    ['onnxruntime-web', r.ort_version],
    ['timing', `median of ${r.ours_runs_ms.length} (ours) / ${r.ort_runs_ms.length} (ORT) runs after ${r.warmup} warm-up, ` +
      'host arrays in to host arrays out'],
  ]);
  const rows = [
    ['ours', fmtMs(r.ours_ms), (r.ours_gflops_per_s).toPrecision(3), fmtMs(r.ours_load_ms), e(r.ours_max_err)],
    ['onnxruntime-web', fmtMs(r.ort_ms), (r.ort_gflops_per_s).toPrecision(3), fmtMs(r.ort_load_ms), e(r.ort_max_err)],
  ];
  const table = formatTable(['engine', 'ms', 'GFLOP/s', 'load ms', 'max err / std vs PyTorch'], rows);
  const verdict =
    r.ours_within_tol === null
      ? `no PyTorch outputs at ${r.size}x${r.size}; ours vs ORT: max err / std ${e(r.ours_vs_ort_max_err)}`
      : `ours ${r.ours_within_tol ? 'within' : 'NOT within'} ${r.tol} x std of PyTorch; ours vs ORT ${e(r.ours_vs_ort_max_err)}`;
  return `${head}\n${table}\nratio ours/ort: ${r.ratio.toFixed(2)}\n${verdict}\n`;
}
