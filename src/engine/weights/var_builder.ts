// One scoped way to reach weights (candle's VarBuilder): vb.pp('down_blocks').pp(0).get('conv1.weight', [C, C, 3, 3]).
// The key is the path walked, as in the diffusers state dict. Problems are collected, not thrown one by one, so
// finish() can list everything missing or wrongly shaped at once, and report the keys no module asked for.
//
// Without a backend (or without a source) get() returns shape-only tensors: the same model code then plans shapes
// and counts parameters with no weights at all (real-scale checks, the cost meter).
import type { Backend, DType, Tensor, WeightData } from '../ops/ops.ts';
import { numel, shapeStr } from '../ops/ops.ts';

/** Host weights by full key, already loaded (see diffusers.ts). */
export interface WeightSource {
  readonly name: string;
  keys(): string[];
  shape(key: string): readonly number[] | undefined;
  data(key: string): WeightData;
}

/** A tensor that has a shape and nothing else (no backend). */
export class ShapeTensor implements Tensor {
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType = 'f32',
  ) {}
}

class Tracker {
  used = new Set<string>();
  missing: string[] = [];
  wrongShape: string[] = [];
  params = 0;
}

export class WeightError extends Error {
  override name = 'WeightError';
}

/** Keys that checkpoints carry and the reference ignores. */
export const KNOWN_EXTRAS = [/^text_model\.embeddings\.position_ids$/];

export class VarBuilder {
  private constructor(
    readonly backend: Backend | null,
    private readonly source: WeightSource | null,
    private readonly prefix: string,
    private readonly tracker: Tracker,
  ) {}

  static from(backend: Backend | null, source: WeightSource | null): VarBuilder {
    return new VarBuilder(backend, source, '', new Tracker());
  }

  /** Descends one path component. */
  pp(name: string | number): VarBuilder {
    return new VarBuilder(this.backend, this.source, this.key(String(name)), this.tracker);
  }

  private key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  get path(): string {
    return this.prefix;
  }

  has(name: string): boolean {
    return !!this.source && this.source.shape(this.key(name)) !== undefined;
  }

  get(name: string, shape: readonly number[]): Tensor {
    const key = this.key(name);
    this.tracker.used.add(key);
    this.tracker.params += numel(shape);
    if (!this.source) return new ShapeTensor(shape);
    const actual = this.source.shape(key);
    if (!actual) {
      this.tracker.missing.push(`${key} ${shapeStr(shape)}`);
      return new ShapeTensor(shape);
    }
    if (shapeStr(actual) !== shapeStr(shape)) {
      this.tracker.wrongShape.push(`${key}: expected ${shapeStr(shape)}, found ${shapeStr(actual)}`);
      return new ShapeTensor(shape);
    }
    if (!this.backend) return new ShapeTensor(shape, this.source.data(key).dtype);
    return this.backend.weight(this.source.data(key), shape);
  }

  /** Parameters requested so far (elements). */
  get paramCount(): number {
    return this.tracker.params;
  }

  /** Keys in the source that no module asked for (known extras excluded). */
  unusedKeys(): string[] {
    if (!this.source) return [];
    return this.source
      .keys()
      .filter((k) => !this.tracker.used.has(k) && !KNOWN_EXTRAS.some((re) => re.test(k)));
  }

  /** Throws one error listing every missing or wrongly shaped tensor; returns the unused keys. */
  finish(opts: { allowUnused?: boolean } = {}): string[] {
    const t = this.tracker;
    const unused = this.unusedKeys();
    const problems: string[] = [];
    if (t.missing.length) problems.push(`missing ${t.missing.length}:\n  ${t.missing.join('\n  ')}`);
    if (t.wrongShape.length) problems.push(`wrong shape ${t.wrongShape.length}:\n  ${t.wrongShape.join('\n  ')}`);
    if (!opts.allowUnused && unused.length) problems.push(`unused ${unused.length}:\n  ${unused.join('\n  ')}`);
    if (problems.length) {
      throw new WeightError(`${this.source?.name ?? 'weights'}: ${problems.join('\n')}`);
    }
    return unused;
  }
}
