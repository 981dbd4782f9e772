// transformers' CLIPTextModel (models/clip/modeling_clip.py): the prompt encoder whose last_hidden_state
// conditions the UNet. Pre-LayerNorm transformer with a causal mask and no padding mask (the pipeline passes
// none), so padded positions are computed like any other token.
import type { Tensor } from '../ops/ops.ts';
import { asPrologue } from './attention_processor.ts';
import type { VarBuilder } from '../weights/var_builder.ts';
import type { CLIPTextConfig } from './configs.ts';
import { backendOf, LayerNorm, Linear, StackedLinear } from './layers.ts';

export class CLIPAttention {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly out_proj: Linear;
  /** q_proj|k_proj|v_proj stacked at load: one projection for all three (null when built without a backend). */
  readonly qkv_proj: StackedLinear | null;
  readonly heads: number;
  readonly scale: number;

  constructor(
    private readonly vb: VarBuilder,
    c: CLIPTextConfig,
  ) {
    const d = c.hidden_size;
    this.heads = c.num_attention_heads;
    this.scale = (d / this.heads) ** -0.5;
    this.q_proj = new Linear(vb.pp('q_proj'), d, d);
    this.k_proj = new Linear(vb.pp('k_proj'), d, d);
    this.v_proj = new Linear(vb.pp('v_proj'), d, d);
    this.out_proj = new Linear(vb.pp('out_proj'), d, d);
    this.qkv_proj = vb.backend ? new StackedLinear(vb, [this.q_proj, this.k_proj, this.v_proj]) : null;
  }

  /**
   * x [B,L,D] -> residual + self_attn(norm(x)) [B,L,D]; token i attends to tokens 0..i. The norm runs inside the
   * projections, the add inside out_proj.
   */
  forward(x: Tensor, o: { norm?: LayerNorm; residual?: Tensor } = {}): Tensor {
    const be = backendOf(this.vb);
    // 1. q|k|v in one projection of norm(x): [B,L,3D]
    const qkv = this.qkv_proj!.forward(x, { layerNorm: asPrologue(o.norm) });
    // 2. causal multi-head attention, reading q, k and v in place: [B,L,D]
    const a = be.attention(qkv, qkv, qkv, { heads: this.heads, scale: this.scale, causal: true, packed: 'qkv' });
    be.release(qkv);
    // 3. out_proj (+ the residual): [B,L,D]
    const out = this.out_proj.forward(a, { residual: o.residual });
    be.release(a);
    return out;
  }
}

export class CLIPMLP {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(
    private readonly vb: VarBuilder,
    private readonly c: CLIPTextConfig,
  ) {
    this.fc1 = new Linear(vb.pp('fc1'), c.hidden_size, c.intermediate_size);
    this.fc2 = new Linear(vb.pp('fc2'), c.intermediate_size, c.hidden_size);
  }

  /** x [B,L,D] -> residual + mlp(norm(x)) [B,L,D] through [B,L,intermediate_size] (norm and add fused). */
  forward(x: Tensor, o: { norm?: LayerNorm; residual?: Tensor } = {}): Tensor {
    const be = backendOf(this.vb);
    const h = this.fc1.forward(x, { layerNorm: asPrologue(o.norm) }); // [B,L,I]
    const a = this.c.hidden_act === 'quick_gelu' ? be.quickGelu(h) : be.gelu(h);
    be.release(h);
    const out = this.fc2.forward(a, { residual: o.residual }); // [B,L,D]
    be.release(a);
    return out;
  }
}

export class CLIPEncoderLayer {
  readonly layer_norm1: LayerNorm;
  readonly self_attn: CLIPAttention;
  readonly layer_norm2: LayerNorm;
  readonly mlp: CLIPMLP;

  constructor(
    private readonly vb: VarBuilder,
    c: CLIPTextConfig,
  ) {
    this.self_attn = new CLIPAttention(vb.pp('self_attn'), c);
    this.layer_norm1 = new LayerNorm(vb.pp('layer_norm1'), c.hidden_size, c.layer_norm_eps);
    this.mlp = new CLIPMLP(vb.pp('mlp'), c);
    this.layer_norm2 = new LayerNorm(vb.pp('layer_norm2'), c.hidden_size, c.layer_norm_eps);
  }

  /** x [B,L,D] -> [B,L,D]. x is not released. */
  forward(x: Tensor): Tensor {
    const be = backendOf(this.vb);
    // 1. x = x + self_attn(layer_norm1(x))   (the norm and the add fused into the attention's linears)
    const h = this.self_attn.forward(x, { norm: this.layer_norm1, residual: x });
    // 2. x = x + fc2(act(fc1(layer_norm2(x))))
    const out = this.mlp.forward(h, { norm: this.layer_norm2, residual: h });
    be.release(h);
    return out;
  }
}

export interface CLIPTextOutput {
  /** [B, L, D] after final_layer_norm: the pipeline's prompt_embeds. */
  lastHiddenState: Tensor;
  /** With outputHiddenStates: num_hidden_layers + 1 tensors [B, L, D]; 0 = embeddings, i = after layer i-1. */
  hiddenStates?: Tensor[];
  /** With outputPooled: [B, D], last_hidden_state at each row's end-of-text token. */
  pooledOutput?: Tensor;
}

export interface CLIPTextForwardOptions {
  outputHiddenStates?: boolean;
  outputPooled?: boolean;
}

/** text_model.* of the checkpoint: embeddings, encoder.layers, final_layer_norm. */
export class CLIPTextTransformer {
  readonly token_embedding: Tensor;
  readonly position_embedding: Tensor;
  readonly layers: CLIPEncoderLayer[] = [];
  readonly final_layer_norm: LayerNorm;

  constructor(
    private readonly vb: VarBuilder,
    readonly config: CLIPTextConfig,
  ) {
    const c = config;
    const emb = vb.pp('embeddings');
    this.token_embedding = emb.pp('token_embedding').get('weight', [c.vocab_size, c.hidden_size]);
    this.position_embedding = emb.pp('position_embedding').get('weight', [c.max_position_embeddings, c.hidden_size]);
    for (let i = 0; i < c.num_hidden_layers; i++) {
      this.layers.push(new CLIPEncoderLayer(vb.pp('encoder').pp('layers').pp(i), c));
    }
    this.final_layer_norm = new LayerNorm(vb.pp('final_layer_norm'), c.hidden_size, c.layer_norm_eps);
  }

  /** ids [B*L] row-major (L <= max_position_embeddings, usually 77). */
  forward(ids: Int32Array, batch: number, o: CLIPTextForwardOptions = {}): CLIPTextOutput {
    const be = backendOf(this.vb);
    const c = this.config;
    const len = ids.length / batch;
    if (!Number.isInteger(len) || len < 1 || len > c.max_position_embeddings) {
      throw new Error(`CLIPTextModel: ${ids.length} ids do not make ${batch} rows of 1..${c.max_position_embeddings}`);
    }
    for (const id of ids) {
      if (!(id >= 0 && id < c.vocab_size)) throw new Error(`CLIPTextModel: token id ${id} outside 0..${c.vocab_size - 1}`);
    }
    // 1. token + position embeddings: ids -> [B, L, D]
    let x = be.embedding(ids, batch, this.token_embedding, this.position_embedding);
    const hiddenStates: Tensor[] = [x];
    // 2. encoder layers; each hidden state is kept only when asked for
    for (const layer of this.layers) {
      const next = layer.forward(x); // [B, L, D]
      if (!o.outputHiddenStates) be.release(x);
      hiddenStates.push(next);
      x = next;
    }
    // 3. final layer norm
    const lastHiddenState = this.final_layer_norm.forward(x); // [B, L, D]
    if (!o.outputHiddenStates) be.release(x);
    const out: CLIPTextOutput = { lastHiddenState };
    if (o.outputHiddenStates) out.hiddenStates = hiddenStates;
    if (o.outputPooled) out.pooledOutput = this.pool(lastHiddenState, ids, batch, len);
    return out;
  }

  /** [B, L, D] -> [B, D] at the end-of-text position (argmax of the ids for legacy configs with eos_token_id 2). */
  private pool(h: Tensor, ids: Int32Array, batch: number, len: number): Tensor {
    const be = backendOf(this.vb);
    const rows: Tensor[] = [];
    for (let b = 0; b < batch; b++) {
      const row = ids.subarray(b * len, (b + 1) * len);
      let p = 0;
      if (this.config.eos_token_id === 2) {
        for (let i = 1; i < len; i++) if (row[i] > row[p]) p = i; // first maximum, like torch.argmax
      } else {
        p = Math.max(0, row.indexOf(this.config.eos_token_id));
      }
      const hb = be.slice(h, 0, b, b + 1); // [1, L, D]
      rows.push(be.slice(hb, 1, p, p + 1)); // [1, 1, D]
      be.release(hb);
    }
    const cat = be.concat(rows, 0); // [B, 1, D]
    rows.forEach((r) => be.release(r));
    const pooled = be.reshape(cat, [batch, this.config.hidden_size]); // [B, D]
    be.release(cat);
    return pooled;
  }
}

export class CLIPTextModel {
  readonly text_model: CLIPTextTransformer;

  constructor(
    vb: VarBuilder,
    readonly config: CLIPTextConfig,
  ) {
    this.text_model = new CLIPTextTransformer(vb.pp('text_model'), config);
  }

  /** ids [B*77] (row-major [B, 77]) -> last_hidden_state [B, 77, D] (and hidden states / pooled when asked). */
  forward(ids: Int32Array, batch: number, o: CLIPTextForwardOptions = {}): CLIPTextOutput {
    return this.text_model.forward(ids, batch, o);
  }
}
