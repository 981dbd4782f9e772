// What the counting backend has recorded: running totals (read before and after a stretch of work to cost it, as
// the meter does for one denoising step) and breakdowns by op kind and by stage. Dispatches, submits and readbacks
// follow GpuRuntime.stats: a dispatch counts when its flush submits it, a flush with nothing recorded submits
// nothing, and a read is a flush plus one readback.

export interface Totals {
  dispatches: number;
  submits: number;
  readbacks: number;
  flops: number;
  bytesRead: number;
  bytesWritten: number;
  /** Host-to-GPU uploads (fromArray, timestep tables, token ids, images, weights) and their bytes. */
  uploads: number;
  uploadBytes: number;
}

/** Per op kind or per stage: recorded dispatches and their cost. */
export interface Tally {
  dispatches: number;
  flops: number;
  bytesRead: number;
  bytesWritten: number;
}

export const zeroTotals = (): Totals => ({
  dispatches: 0, submits: 0, readbacks: 0, flops: 0, bytesRead: 0, bytesWritten: 0, uploads: 0, uploadBytes: 0,
});

const zeroTally = (): Tally => ({ dispatches: 0, flops: 0, bytesRead: 0, bytesWritten: 0 });

/** b - a, field by field. */
export function diffTotals(a: Totals, b: Totals): Totals {
  const out = zeroTotals();
  for (const k of Object.keys(out) as (keyof Totals)[]) out[k] = b[k] - a[k];
  return out;
}

/** The largest buffer bound to one dispatch, and which op bound it. */
export interface BindingRecord {
  bytes: number;
  op: string;
  shape: readonly number[];
}

export class Ledger {
  private readonly t = zeroTotals();
  readonly byKind = new Map<string, Tally>();
  readonly byStage = new Map<string, Tally>();
  maxBinding: BindingRecord = { bytes: 0, op: '', shape: [] };
  private pendingDispatches = 0;
  private pendingCopies = 0;

  /** One recorded dispatch (counted in `dispatches` at the next flush). */
  dispatch(kind: string, stage: string, cost: Omit<Tally, 'dispatches'>): void {
    this.pendingDispatches++;
    this.t.flops += cost.flops;
    this.t.bytesRead += cost.bytesRead;
    this.t.bytesWritten += cost.bytesWritten;
    for (const [map, key] of [[this.byKind, kind], [this.byStage, stage]] as const) {
      let tally = map.get(key);
      if (!tally) map.set(key, (tally = zeroTally()));
      tally.dispatches++;
      tally.flops += cost.flops;
      tally.bytesRead += cost.bytesRead;
      tally.bytesWritten += cost.bytesWritten;
    }
  }

  bound(bytes: number, op: string, shape: readonly number[]): void {
    if (bytes > this.maxBinding.bytes) this.maxBinding = { bytes, op, shape: [...shape] };
  }

  upload(bytes: number): void {
    this.t.uploads++;
    this.t.uploadBytes += bytes;
  }

  /** GpuRuntime.flush(): one submit when anything (dispatch or readback copy) is pending. */
  flush(): void {
    if (!this.pendingDispatches && !this.pendingCopies) return;
    this.t.dispatches += this.pendingDispatches;
    this.t.submits++;
    this.pendingDispatches = 0;
    this.pendingCopies = 0;
  }

  /** GpuRuntime.readRaw(): a copy to a staging buffer, a flush, then one readback. */
  readback(): void {
    this.pendingCopies++;
    this.flush();
    this.t.readbacks++;
  }

  /** A copy of the running totals. */
  snapshot(): Totals {
    return { ...this.t };
  }
}
