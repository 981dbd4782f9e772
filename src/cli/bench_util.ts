// What the bench modes share: the median of repeated timings, plain-text tables, progress lines on stderr (stdout
// stays for the table or the one JSON object), and a GPU timer that uses timestamp queries where the adapter has
// them and falls back to wall time around the submit and onSubmittedWorkDone.
import type { GpuContext } from '../engine/gpu/device.ts';
import type { DType } from '../engine/ops/ops.ts';
import { UsageError, type FlagSpec } from './args.ts';

export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The first `left` columns left-aligned (labels), the rest right-aligned (numbers). */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[], left = 1): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((cell, c) => (c < left ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n') + '\n';
}

/** Two columns: label, value. */
export function formatPairs(rows: readonly (readonly [string, string])[]): string {
  const w = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, v]) => `${l.padEnd(w)}  ${v}`).join('\n') + '\n';
}

/** --activations: how the modes that run the engine in Node store activations. */
export const ACTIVATIONS_FLAG: FlagSpec = {
  type: 'string',
  value: 'auto|f16|f32',
  help: 'activation storage: auto (default) is f16 where the adapter has shader-f16, as the app does; else f32',
};

/** The --activations value checked; 'auto' resolved against the adapter. */
export function activationDtype(flag: string | undefined, ctx: Pick<GpuContext, 'features'>): DType {
  const v = flag ?? 'auto';
  if (v !== 'auto' && v !== 'f16' && v !== 'f32') throw new UsageError(`--activations must be auto, f16 or f32, got ${v}`);
  if (v === 'f16' && !ctx.features.shaderF16) throw new UsageError('--activations f16 needs an adapter with shader-f16');
  return v === 'auto' ? (ctx.features.shaderF16 ? 'f16' : 'f32') : v;
}

export function say(text: string): void {
  process.stderr.write(text + '\n');
}

export const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/** A square test photo for timed edits: gradients and a disc, deterministic (the content does not change the cost). */
export function testImage(size: number): { width: number; height: number; data: Uint8Array } {
  const data = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = 3 * (y * size + x);
      const inDisc = (x - size / 2) ** 2 + (y - size / 3) ** 2 < (size / 5) ** 2;
      data[i] = inDisc ? 240 : Math.round((255 * x) / size);
      data[i + 1] = inDisc ? 200 : Math.round((255 * y) / size);
      data[i + 2] = inDisc ? 40 : 128;
    }
  }
  return { width: size, height: size, data };
}

/** Which clock a timing came from. */
export type TimerKind = 'timestamp-query' | 'wall';

/**
 * Times the GPU work that `fn` submits. With 'timestamp-query' the runtime's compute pass gets timestampWrites
 * (the command encoder is wrapped while fn runs, so engine code stays untouched) and the result is the span from
 * the first pass's start to the last pass's end (idle gaps between submits included); otherwise it is wall time
 * from before fn until the queue is idle.
 */
export class GpuTimer {
  readonly kind: TimerKind;
  private readonly querySet: GPUQuerySet | null = null;
  private readonly resolveBuf: GPUBuffer | null = null;

  constructor(
    private readonly ctx: GpuContext,
    prefer: TimerKind = 'timestamp-query',
  ) {
    this.kind = prefer === 'timestamp-query' && ctx.features.timestampQuery ? 'timestamp-query' : 'wall';
    if (this.kind === 'timestamp-query') {
      this.querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 2 });
      this.resolveBuf = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    }
  }

  /** Milliseconds of GPU time for the work fn submits (fn must finish its submits before it resolves). */
  async time(fn: () => Promise<void>): Promise<number> {
    const device = this.ctx.device;
    if (this.kind === 'wall') {
      await device.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      await fn();
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    }
    // Slot 0: the start of the first pass; slot 1: the end of every pass, so the last one (in submit order) stays.
    const querySet = this.querySet!;
    let passes = 0;
    const original = device.createCommandEncoder;
    device.createCommandEncoder = (desc?: GPUCommandEncoderDescriptor): GPUCommandEncoder => {
      const enc = original.call(device, desc);
      const begin = enc.beginComputePass;
      enc.beginComputePass = (pd?: GPUComputePassDescriptor) => {
        const first = passes++ === 0;
        const timestampWrites: GPUComputePassTimestampWrites = first
          ? { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 }
          : { querySet, endOfPassWriteIndex: 1 };
        return begin.call(enc, { ...pd, timestampWrites });
      };
      return enc;
    };
    try {
      await fn();
    } finally {
      device.createCommandEncoder = original;
    }
    if (!passes) throw new Error('GpuTimer: the timed work recorded no compute pass');
    const staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    enc.resolveQuerySet(querySet, 0, 2, this.resolveBuf!, 0);
    enc.copyBufferToBuffer(this.resolveBuf!, 0, staging, 0, 16);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const [t0, t1] = new BigUint64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    const ns = Number(t1 - t0);
    if (!(ns > 0)) throw new Error(`GpuTimer: timestamps did not advance (${t0} .. ${t1})`);
    return ns / 1e6;
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuf?.destroy();
  }
}

/** n values uniform in [-scale, scale) from a small seeded generator (mulberry32): inputs for timing, not tests. */
export function uniform(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
