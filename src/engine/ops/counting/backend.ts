// The op vocabulary on shapes alone: every op checks its arguments and returns a tensor of the right shape, and
// records what the WebGPU backend would do for it — the same dispatches (one per kernel launch, per input for
// concat, none for a zero-sized grid), the same uploads, pooled outputs and releases in the same order (so the
// buffer plan replays GpuRuntime's pool), FLOPs and bytes (see cost.ts). Runs the real model code with no weights
// and no GPU: the cost meter (src/engine/meter.ts) plans a whole edit on it.
//
// Weights: models built with VarBuilder.from(countingBackend, null) hold ShapeTensors. Each is uploaded (a fresh
// buffer at the weight dtype of this backend) when adoptWeights() finds it in a built model, or when an op first
// meets it. Tensors made by weight() keep the dtype of their data.
import type { AttentionOptions, Backend, Conv2dOptions, DType, GroupNormOptions, LincombTerm, LinearOptions, Tensor, WeightData } from '../ops.ts';
import { numel, shapeStr } from '../ops.ts';
import { ShapeTensor, VarBuilder } from '../../weights/var_builder.ts';
import { BufferPlan, type PoolPolicy, type Storage } from './buffer_plan.ts';
import { attentionFlops, conv2dFlops, gemmFlops, LAYOUT_FLOPS, PER_ELEMENT } from './cost.ts';
import { Ledger, type BindingRecord } from './ledger.ts';
import * as S from './shapes.ts';

export class CountingTensor implements Tensor {
  constructor(
    readonly shape: readonly number[],
    readonly dtype: DType,
    /** @internal */ readonly storage: Storage,
  ) {}
}

export interface CountingOptions {
  /** Storage of the shape-only weights: 'f16' (the fp16 weight files) or 'f32'. Default f32. */
  weightDtype?: DType;
  /** Storage of activations (op outputs; host arrays upload f32 as on WebGPU). Default f32. */
  activationDtype?: DType;
  /** The pool's grow-trim thresholds (GpuRuntime.setPoolPolicy); default DEFAULT_POOL_POLICY. */
  pool?: Partial<PoolPolicy>;
}

const bytesOf = (shape: readonly number[], dtype: DType) => numel(shape) * (dtype === 'f16' ? 2 : 4);
const sizeOf = (t: CountingTensor) => bytesOf(t.shape, t.dtype);

export class CountingBackend implements Backend {
  readonly name = 'counting';
  readonly ledger = new Ledger();
  /** A grow-trim submits what is recorded, as GpuRuntime does before destroying free buffers. */
  readonly plan: BufferPlan;
  /** The largest binding recorded under each stage. */
  readonly maxBindingByStage = new Map<string, BindingRecord>();
  readonly weightDtype: DType;
  readonly activationDtype: DType;
  /** Work is attributed to this stage (the meter sets it around each model's forward). */
  stage = 'other';
  /** Exact weight bytes (elements x dtype size) per component, without the pool's rounding. */
  readonly weightBytes = new Map<string, number>();
  private readonly weights = new WeakMap<ShapeTensor, CountingTensor>();
  /** Fused weights made (concatWeights) from shape-only weights uploaded for them under `stage`, before
   * adoptWeights() could attribute them to their model: their bytes move to the model's component there. */
  private readonly fusedFrom = new WeakMap<CountingTensor, { stage: string; bytes: number }>();
  private dummyBias: CountingTensor | null = null;

  constructor(o: CountingOptions = {}) {
    this.weightDtype = o.weightDtype ?? 'f32';
    this.activationDtype = o.activationDtype ?? 'f32';
    this.plan = new BufferPlan(() => this.ledger.flush(), o.pool);
  }

  // ---- accounting ------------------------------------------------------------------------------------------
  private empty(shape: readonly number[], dtype: DType = this.activationDtype): CountingTensor {
    return new CountingTensor(shape, dtype, this.plan.alloc(bytesOf(shape, dtype), `${dtype} ${shapeStr(shape)}`, this.stage));
  }

  private upload(shape: readonly number[], dtype: DType, bytes = bytesOf(shape, dtype)): CountingTensor {
    this.ledger.upload(bytes);
    return new CountingTensor(shape, dtype, this.plan.upload(bytes, 'upload', `upload ${shapeStr(shape)}`, this.stage));
  }

  private uploadWeight(shape: readonly number[], dtype: DType, component: string): CountingTensor {
    const bytes = bytesOf(shape, dtype);
    this.ledger.upload(bytes);
    this.weightBytes.set(component, (this.weightBytes.get(component) ?? 0) + bytes);
    return new CountingTensor(shape, dtype, this.plan.upload(bytes, 'weight', `weight ${dtype} ${shapeStr(shape)}`, this.stage));
  }

  /** Uploads every shape-only weight a built model holds, as loading does before any forward. Returns their count. */
  adoptWeights(model: object, component: string): number {
    const seen = new Set<object>();
    let count = 0;
    const walk = (v: unknown): void => {
      if (typeof v !== 'object' || v === null || seen.has(v)) return;
      seen.add(v);
      if (v instanceof ShapeTensor) {
        if (!this.weights.has(v)) {
          this.weights.set(v, this.uploadWeight(v.shape, this.weightDtype, component));
          count++;
        }
        return;
      }
      if (v instanceof CountingTensor) {
        const from = this.fusedFrom.get(v);
        if (from) {
          this.weightBytes.set(from.stage, (this.weightBytes.get(from.stage) ?? 0) - from.bytes);
          this.weightBytes.set(component, (this.weightBytes.get(component) ?? 0) + from.bytes);
          this.fusedFrom.delete(v);
        }
        return;
      }
      if (v instanceof VarBuilder || v instanceof CountingBackend || ArrayBuffer.isView(v)) return;
      if (v instanceof Map) for (const x of v.values()) walk(x);
      else for (const x of Object.values(v)) walk(x);
    };
    walk(model);
    return count;
  }

  /** This backend's tensor for t: its own, or a shape-only weight (uploaded on first sight). */
  private c(t: Tensor): CountingTensor {
    if (t instanceof CountingTensor) return t;
    if (t instanceof ShapeTensor) {
      let w = this.weights.get(t);
      if (!w) this.weights.set(t, (w = this.uploadWeight(t.shape, this.weightDtype, this.stage)));
      return w;
    }
    throw new Error('tensor does not belong to the counting backend');
  }

  private act(op: string, ...ts: CountingTensor[]): void {
    for (const t of ts) {
      if (t.dtype !== this.activationDtype) throw new Error(`${op}: expected an ${this.activationDtype} activation, got ${t.dtype}`);
    }
  }

  /**
   * One kernel launch: `bound` are the tensors bound to it (their buffers are checked against the largest binding),
   * `read` and `written` its compulsory bytes. A grid with a zero dimension records nothing, like rt.dispatch().
   */
  private record(kind: string, flops: number, bound: CountingTensor[], read: number, written: number, grid: readonly number[] = [1]): void {
    if (grid.some((n) => n === 0)) return;
    for (const t of bound) {
      this.ledger.bound(t.storage.size, kind, t.shape);
      const m = this.maxBindingByStage.get(this.stage);
      if (!m || t.storage.size > m.bytes) this.maxBindingByStage.set(this.stage, { bytes: t.storage.size, op: kind, shape: [...t.shape] });
    }
    this.ledger.dispatch(kind, this.stage, { flops, bytesRead: read, bytesWritten: written });
  }

  /** The 16-byte zero buffer bound where an op has no bias (uploaded once, never read). */
  private noBias(): CountingTensor {
    return (this.dummyBias ??= this.upload([4], 'f32'));
  }

  /** Cost of `kind` at `perElement` FLOPs per output element: reads `inputs`, writes y. */
  private pointwise(kind: string, perElement: number, inputs: CountingTensor[], y: CountingTensor): void {
    const read = inputs.reduce((s, t) => s + sizeOf(t), 0);
    this.record(kind, perElement * numel(y.shape), [...inputs, y], read, sizeOf(y));
  }

  // ---- tensors ---------------------------------------------------------------------------------------------
  /** f32 whatever the activation storage, as WebGpuBackend.fromArray uploads. */
  fromArray(data: Float32Array, shape: readonly number[]): Tensor {
    if (data.length !== numel(shape)) throw new Error(`fromArray ${shapeStr(shape)}: got ${data.length} values`);
    return this.upload(shape, 'f32');
  }
  weight(w: WeightData, shape: readonly number[]): Tensor {
    if (w.data.length !== numel(shape)) throw new Error(`weight ${shapeStr(shape)}: got ${w.data.length} values`);
    return this.uploadWeight(shape, w.dtype, this.stage);
  }
  async read(t: Tensor): Promise<Float32Array> {
    const x = this.c(t);
    this.ledger.readback();
    this.plan.submitted();
    return new Float32Array(numel(x.shape));
  }
  reshape(t: Tensor, shape: readonly number[]): Tensor {
    const x = this.c(t);
    if (numel(shape) !== numel(x.shape)) throw new Error(`reshape ${shapeStr(x.shape)} -> ${shapeStr(shape)}: sizes differ`);
    this.plan.retain(x.storage);
    return new CountingTensor(shape, x.dtype, x.storage);
  }
  release(t: Tensor): void {
    this.plan.release(this.c(t).storage);
  }
  async flush(): Promise<void> {
    const before = this.ledger.snapshot().submits;
    this.ledger.flush();
    if (this.ledger.snapshot().submits > before) this.plan.submitted();
  }
  /** GpuRuntime.releaseCached(): a flush, then the free buffers destroyed. */
  async releaseCached(): Promise<void> {
    await this.flush();
    this.plan.trim();
  }

  // ---- convolution and normalization ------------------------------------------------------------------------
  conv2d(xt: Tensor, wt: Tensor, bt: Tensor | null, o: Conv2dOptions = {}): Tensor {
    const [x, w, b] = [this.c(xt), this.c(wt), bt && this.c(bt)];
    const cb = o.channelBias ? this.c(o.channelBias.table) : null;
    const res = o.residual ? this.c(o.residual) : null;
    const g = S.conv2dGeometry(x, w, b, o);
    const y = this.empty(g.shape); // [N,Cin,H,W] -> [N,Cout,Ho,Wo] (or tokens)
    const dummy = this.noBias(); // the wrapper binds it for every absent input
    const outputs = numel(g.shape);
    const flops = conv2dFlops(g.n, g.cout, g.ho, g.wo, g.cin, g.kh, g.kw) + ((cb ? 1 : 0) + (res ? 1 : 0)) * outputs;
    const read = sizeOf(x) + sizeOf(w) + (b ? sizeOf(b) : 0) + (cb ? bytesOf([g.n, g.cout], cb.dtype) : 0) + (res ? sizeOf(res) : 0);
    this.record('conv2d', flops, [x, w, b ?? dummy, cb ?? dummy, res ?? dummy, y], read, sizeOf(y));
    return y;
  }
  groupNorm(xt: Tensor, gamma: Tensor, beta: Tensor, o: GroupNormOptions): Tensor {
    const [x, g, b] = [this.c(xt), this.c(gamma), this.c(beta)];
    S.checkGroupNorm(x, g, b, o);
    this.act('groupNorm', x);
    const y = this.empty(x.shape);
    this.pointwise('groupNorm', o.silu ? PER_ELEMENT.groupNormSilu : PER_ELEMENT.groupNorm, [x, g, b], y);
    return y;
  }
  layerNorm(xt: Tensor, gamma: Tensor, beta: Tensor, _eps: number): Tensor {
    const [x, g, b] = [this.c(xt), this.c(gamma), this.c(beta)];
    S.checkLayerNorm(x, g, b);
    this.act('layerNorm', x);
    const y = this.empty(x.shape);
    this.pointwise('layerNorm', PER_ELEMENT.layerNorm, [x, g, b], y);
    return y;
  }

  // ---- matrix products -------------------------------------------------------------------------------------
  linear(xt: Tensor, wt: Tensor, bt: Tensor | null, o: LinearOptions = {}): Tensor {
    const [x, w, b] = [this.c(xt), this.c(wt), bt && this.c(bt)];
    const res = o.residual ? this.c(o.residual) : null;
    const ln = o.layerNorm ? [this.c(o.layerNorm.gamma), this.c(o.layerNorm.beta)] : [];
    const g = S.linearGeometry(x, w, b, o);
    const y = this.empty(g.shape); // [..., K] -> [..., N] (N/2 with GEGLU)
    const dummy = this.noBias(); // the wrapper binds it for every absent input
    const outputs = numel(g.shape);
    const flops = gemmFlops(g.M, g.N, g.K) + (ln.length ? PER_ELEMENT.layerNorm * numel(x.shape) : 0) +
      (o.geglu ? PER_ELEMENT.geglu * outputs : 0) + (res ? outputs : 0);
    const read = [x, w, ...(b ? [b] : []), ...ln, ...(res ? [res] : [])].reduce((sum, t) => sum + sizeOf(t), 0);
    this.record('linear', flops, [x, w, b ?? dummy, ln[0] ?? dummy, ln[1] ?? dummy, res ?? dummy, y], read, sizeOf(y));
    return y;
  }
  matmul(at: Tensor, bt: Tensor): Tensor {
    const [a, b] = [this.c(at), this.c(bt)];
    const g = S.matmulGeometry(a, b);
    const y = this.empty([g.B, g.M, g.N]); // [B,M,K] x [B,K,N] -> [B,M,N]
    this.record('matmul', g.B * gemmFlops(g.M, g.N, g.K), [a, b, y], sizeOf(a) + sizeOf(b), sizeOf(y));
    return y;
  }
  attention(qt: Tensor, kt: Tensor, vt: Tensor, o: AttentionOptions): Tensor {
    const [q, k, v] = [this.c(qt), this.c(kt), this.c(vt)];
    const g = S.attentionGeometry(q, k, v, o);
    this.act('attention', q, k, v);
    const y = this.empty([g.B, g.Nq, g.C]);
    const flops = attentionFlops(g.B, g.H, g.Nq, g.Nk, g.D);
    const read = [...new Set([q, k, v])].reduce((sum, t) => sum + sizeOf(t), 0); // a packed tensor is read once
    // grid as the wrapper's: ceil(Nq / 16) query blocks x B*H heads
    this.record('attention', flops, [q, k, v, y], read, sizeOf(y), [Math.ceil(g.Nq / 16), g.B * g.H]);
    return y;
  }
  softmax(xt: Tensor): Tensor {
    const x = this.c(xt);
    this.act('softmax', x);
    if (x.shape.length < 1) throw new Error('softmax: x must have a last dim');
    const n = x.shape[x.shape.length - 1];
    const rows = n === 0 ? 0 : numel(x.shape) / n;
    const y = this.empty(x.shape);
    this.record('softmax', PER_ELEMENT.softmax * numel(x.shape), [x, y], sizeOf(x), sizeOf(y), [Math.min(rows, 65535)]);
    return y;
  }

  // ---- element-wise ----------------------------------------------------------------------------------------
  private unary(kind: keyof typeof PER_ELEMENT, xt: Tensor): Tensor {
    const x = this.c(xt);
    const y = this.empty(x.shape);
    this.pointwise(kind, PER_ELEMENT[kind], [x], y);
    return y;
  }
  silu(x: Tensor): Tensor {
    return this.unary('silu', x);
  }
  gelu(x: Tensor): Tensor {
    return this.unary('gelu', x);
  }
  quickGelu(x: Tensor): Tensor {
    return this.unary('quickGelu', x);
  }
  geglu(xt: Tensor): Tensor {
    const x = this.c(xt);
    const shape = S.gegluShape(x);
    this.act('geglu', x);
    const y = this.empty(shape); // [..., 2C] -> [..., C]
    this.pointwise('geglu', PER_ELEMENT.geglu, [x], y);
    return y;
  }
  exp(x: Tensor): Tensor {
    return this.unary('exp', x);
  }
  clamp(x: Tensor, _lo: number, _hi: number): Tensor {
    return this.unary('clamp', x);
  }
  add(at: Tensor, bt: Tensor): Tensor {
    return this.binary('add', at, bt);
  }
  mul(at: Tensor, bt: Tensor): Tensor {
    return this.binary('mul', at, bt);
  }
  private binary(kind: 'add' | 'mul', at: Tensor, bt: Tensor): Tensor {
    const [a, b] = [this.c(at), this.c(bt)];
    S.sameShape(kind, a, b);
    const y = this.empty(a.shape);
    this.pointwise(kind, PER_ELEMENT[kind], [a, b], y);
    return y;
  }
  scale(x: Tensor, _s: number, _t = 0): Tensor {
    return this.unary('affine', x);
  }
  addPerChannel(xt: Tensor, vt: Tensor): Tensor {
    const [x, v] = [this.c(xt), this.c(vt)];
    S.checkPerChannel(x, v);
    const y = this.empty(x.shape);
    this.pointwise('addPerChannel', PER_ELEMENT.addPerChannel, [x, v], y);
    return y;
  }
  lincomb(terms: readonly LincombTerm[]): Tensor {
    const ts = terms.map((term) => ({ ...term, t: this.c(term.t) }));
    const shape = S.lincombShape(ts);
    const y = this.empty(shape, 'f32'); // always f32
    const read = ts.reduce((sum, { t }) => sum + bytesOf(shape, t.dtype), 0);
    this.record('lincomb', PER_ELEMENT.lincomb * ts.length * numel(shape), [...ts.map(({ t }) => t), y], read, sizeOf(y));
    return y;
  }

  // ---- weights ---------------------------------------------------------------------------------------------
  concatWeights(wts: readonly Tensor[]): Tensor {
    const stage = this.stage;
    const before = this.weightBytes.get(stage) ?? 0;
    const ws = wts.map((t) => this.c(t)); // shape-only weights not adopted yet are uploaded here, under `stage`
    const shape = S.concatWeightsShape(ws);
    const y = this.empty(shape, ws[0].dtype);
    for (const w of ws) {
      const bytes = sizeOf(w);
      if (bytes > 0) this.record('concatWeights', LAYOUT_FLOPS, [w, y], bytes, bytes);
    }
    for (const w of ws) this.release(w);
    const uploaded = (this.weightBytes.get(stage) ?? 0) - before;
    if (uploaded > 0) this.fusedFrom.set(y, { stage, bytes: uploaded });
    return y;
  }

  // ---- layout ----------------------------------------------------------------------------------------------
  upsampleNearest(xt: Tensor, outH: number, outW: number): Tensor {
    const x = this.c(xt);
    const shape = S.upsampleShape(x, outH, outW);
    const y = this.empty(shape, x.dtype); // layout ops keep their input's dtype, as the WebGPU wrappers do
    this.record('upsampleNearest', LAYOUT_FLOPS, [x, y], sizeOf(x), sizeOf(y));
    return y;
  }
  concat(xts: readonly Tensor[], axis: number): Tensor {
    const xs = xts.map((t) => this.c(t));
    // mixed f32 / f16 inputs give f32 (lossless), as src/engine/ops/webgpu/layout.ts concat does
    const y = this.empty(S.concatShape(xs, axis), xs.every((x) => x.dtype === 'f16') ? 'f16' : 'f32');
    for (const x of xs) this.record('concat', LAYOUT_FLOPS, [x, y], sizeOf(x), sizeOf(x)); // one copy per input
    return y;
  }
  slice(xt: Tensor, axis: number, start: number, end: number): Tensor {
    const x = this.c(xt);
    const y = this.empty(S.sliceShape(x, axis, start, end), x.dtype);
    this.record('slice', LAYOUT_FLOPS, [x, y], sizeOf(y), sizeOf(y));
    return y;
  }
  nchwToNlc(xt: Tensor): Tensor {
    const x = this.c(xt);
    if (x.shape.length !== 4) throw new Error(`nchwToNlc x: expected rank 4, got ${shapeStr(x.shape)}`);
    const [N, C, H, W] = x.shape;
    const y = this.empty([N, H * W, C], x.dtype);
    this.record('transpose', LAYOUT_FLOPS, [x, y], sizeOf(x), sizeOf(y), S.transposeGrid(N, C, H * W));
    return y;
  }
  nlcToNchw(xt: Tensor, h: number, w: number): Tensor {
    const x = this.c(xt);
    if (x.shape.length !== 3) throw new Error(`nlcToNchw x: expected rank 3, got ${shapeStr(x.shape)}`);
    const [N, L, C] = x.shape;
    if (L !== h * w) throw new Error(`nlcToNchw: ${L} positions is not ${h}x${w}`);
    const y = this.empty([N, C, h, w], x.dtype);
    this.record('transpose', LAYOUT_FLOPS, [x, y], sizeOf(x), sizeOf(y), S.transposeGrid(N, L, C));
    return y;
  }

  // ---- embeddings and images -------------------------------------------------------------------------------
  timestepEmbedding(timesteps: Float32Array, dim: number, _flip: boolean, _shift: number): Tensor {
    return this.upload([timesteps.length, dim], this.activationDtype); // built on the host and uploaded
  }
  embedding(ids: Int32Array, batch: number, tokenTable: Tensor, posTable: Tensor): Tensor {
    const [tok, pos] = [this.c(tokenTable), this.c(posTable)];
    const shape = S.embeddingShape(ids, batch, tok, pos);
    const idBuf = this.upload([ids.length], 'f32'); // u32 words
    const y = this.empty(shape);
    // reads the ids and one token row plus one position row per output row
    const rowBytes = numel(shape) * ((tok.dtype === 'f16' ? 2 : 4) + (pos.dtype === 'f16' ? 2 : 4));
    this.record('embedding', PER_ELEMENT.embedding * numel(shape), [idBuf, tok, pos, y], sizeOf(idBuf) + rowBytes, sizeOf(y));
    this.release(idBuf);
    return y;
  }
  imageToTensor(rgb: Uint8Array, h: number, w: number): Tensor {
    if (rgb.length !== h * w * 3) throw new Error(`imageToTensor: ${rgb.length} bytes for ${h}x${w}x3`);
    const words = Math.ceil(rgb.length / 4); // four bytes per word
    const packed = this.upload([words], 'f32');
    const y = this.empty([1, 3, h, w]);
    this.record('image', PER_ELEMENT.imageToTensor * numel(y.shape), [packed, y], rgb.length, sizeOf(y));
    this.release(packed);
    return y;
  }
  async tensorToImage(xt: Tensor): Promise<Uint8Array> {
    const x = this.c(xt);
    const [N, C, H, W] = x.shape;
    if (x.shape.length !== 4 || N !== 1 || C !== 3) throw new Error(`tensorToImage: expected [1,3,H,W], got ${shapeStr(x.shape)}`);
    const bytes = H * W * 3;
    const packed = this.empty([Math.ceil(bytes / 4)], 'f32'); // u32 words of HWC bytes
    this.record('image', PER_ELEMENT.tensorToImage * numel(x.shape), [x, packed], sizeOf(x), bytes);
    try {
      this.ledger.readback();
      this.plan.submitted();
      return new Uint8Array(bytes);
    } finally {
      this.release(packed);
    }
  }
}
