// Fused multi-head attention, flash style: y = softmax(q k^T * scale [causal: keys j > i masked]) v for each
// (batch, head), with an online softmax (running max m and sum l per query row), so the [Nq, Nk] score matrix
// never exists in memory. q, k, v and y are activations (f32 or f16 storage, read through q_at/k_at/v_at and
// written through y_put); staging, scores, the running max and sum and the accumulators are f32 in any case.
// q [B,Nq,H*D], k/v [B,Nk,H*D], y [B,Nq,H*D]; head h = channels h*D... q, k and v may be packed in one tensor
// (q|k|v rows of 3C, or k|v rows of 2C, bound to several bindings): rows are read with a stride and k, v from an
// offset, so a fused projection's output is used in place.
// Tiling: a workgroup of 256 invocations owns BQ = 16 query rows of one (batch, head) and walks the keys in tiles
// of BK = 16. Invocation (r, c) = (lid / 16, lid % 16) computes the score of row r and key c from Q and K chunks
// of DC = 80 channels staged in workgroup memory (D is walked in chunks, so memory stays at 11 KiB for any D).
// Every invocation of row r then reads the row's 16 scores, updates m and l, and adds p . V into the DPT output
// channels it owns, d = c + 16 t (V staged chunk by chunk in the K buffer). DPT = ceil(D / 16) is an override,
// so the accumulator loops have a fixed trip count and the array (at most 32 floats) can live in registers.
// Grid: x = query tile, y = batch * H + head. WG must be BQ * BK = 256.

override WG: u32 = 256u;
override DPT: u32 = 4u;

const BQ = 16u;
const BK = 16u;
const DC = 80u;     // channels per staged chunk
const DS = 81u;     // row stride in workgroup memory (odd: no bank conflicts between rows)
const OMAX = 32u;   // largest DPT: D <= 512

@group(0) @binding(0) var<storage, read> q: array<q_t>;
@group(0) @binding(1) var<storage, read> k: array<k_t>;
@group(0) @binding(2) var<storage, read> v: array<v_t>;
@group(0) @binding(3) var<storage, read_write> y: array<y_t>;

struct Params {
  Nq: u32,
  Nk: u32,
  H: u32,
  D: u32,
  scale: f32,
  causal: u32,    // 1: key j is visible to query i only when j <= i
  qStride: u32,   // elements from one q row to the next: C, or 3C in a packed q|k|v tensor
  kvStride: u32,  // the same for k and v rows: C, 2C (k|v) or 3C (q|k|v)
  kOff: u32,      // channel where k starts in its row: 0, or C in a q|k|v row
  vOff: u32,      // channel where v starts in its row: 0, C in a k|v row, 2C in a q|k|v row
}
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> qs: array<f32, 1296>;   // [BQ][DS]
var<workgroup> kvs: array<f32, 1296>;  // [BK][DS]: a K chunk, then a V chunk
var<workgroup> ss: array<f32, 256>;    // [BQ][BK] scores

fn visible(j: u32, i: u32) -> bool {
  return j < p.Nk && (p.causal == 0u || j <= i);
}

// Stages rows [row0, row0 + 16) x channels [d0, d0 + dl) of one head of `which` (0 q, 1 k, 2 v), rows `stride`
// elements apart from `base`, into workgroup memory; rows past `rows` read as zero.
fn stage(which: u32, base: u32, stride: u32, row0: u32, rows: u32, d0: u32, dl: u32, lid: u32) {
  for (var e = lid; e < 16u * DC; e += WG) {
    let rr = e / DC;
    let dd = e % DC;
    if (dd < dl) {
      var val = 0.0;
      if (row0 + rr < rows) {
        let idx = base + (row0 + rr) * stride + d0 + dd;
        if (which == 0u) { val = q_at(idx); } else if (which == 1u) { val = k_at(idx); } else { val = v_at(idx); }
      }
      if (which == 0u) { qs[rr * DS + dd] = val; } else { kvs[rr * DS + dd] = val; }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let r = lid / BK;
  let c = lid % BK;
  let q0 = wid.x * BQ;
  let i = q0 + r;
  let b = wid.y / p.H;
  let h = wid.y % p.H;
  let C = p.H * p.D;
  let qBase = b * p.Nq * p.qStride + h * p.D;  // q[b, n, h*D + d] = q[qBase + n*qStride + d]
  let kBase = b * p.Nk * p.kvStride + p.kOff + h * p.D;
  let vBase = b * p.Nk * p.kvStride + p.vOff + h * p.D;
  let yBase = b * p.Nq * C + h * p.D;
  var kEnd = p.Nk;
  if (p.causal != 0u) { kEnd = min(p.Nk, q0 + BQ); }
  let nch = (p.D + DC - 1u) / DC;

  var o: array<f32, OMAX>;
  var m = -3.0e38;
  var l = 0.0;
  for (var j0 = 0u; j0 < kEnd; j0 += BK) {
    // 1. scores S[r][c] = scale * q_i . k_(j0+c), accumulated over channel chunks
    var s = 0.0;
    for (var ch = 0u; ch < nch; ch++) {
      let d0 = ch * DC;
      let dl = min(DC, p.D - d0);
      workgroupBarrier();
      if (nch > 1u || j0 == 0u) { stage(0u, qBase, p.qStride, q0, p.Nq, d0, dl, lid); }  // one chunk: Q stays staged
      stage(1u, kBase, p.kvStride, j0, p.Nk, d0, dl, lid);
      workgroupBarrier();
      for (var dd = 0u; dd < dl; dd++) { s += qs[r * DS + dd] * kvs[c * DS + dd]; }
    }
    ss[lid] = s * p.scale;
    workgroupBarrier();

    // 2. online softmax for row i (the 16 invocations of a row compute the same m, l and weights)
    var mt = m;
    for (var j = 0u; j < BK; j++) {
      if (visible(j0 + j, i)) { mt = max(mt, ss[r * BK + j]); }
    }
    let alpha = exp(m - mt);
    var w: array<f32, BK>;
    var lt = 0.0;
    for (var j = 0u; j < BK; j++) {
      w[j] = select(0.0, exp(ss[r * BK + j] - mt), visible(j0 + j, i));
      lt += w[j];
    }
    l = l * alpha + lt;
    m = mt;
    for (var t = 0u; t < DPT; t++) { o[t] *= alpha; }

    // 3. o += w . V over the tile, chunk by chunk
    for (var ch = 0u; ch < nch; ch++) {
      let d0 = ch * DC;
      let dl = min(DC, p.D - d0);
      workgroupBarrier();
      stage(2u, vBase, p.kvStride, j0, p.Nk, d0, dl, lid);
      workgroupBarrier();
      for (var t = 0u; t < DPT; t++) {
        let d = c + BK * t;
        if (d >= d0 && d < d0 + dl) {
          var acc = 0.0;
          for (var j = 0u; j < BK; j++) { acc += w[j] * kvs[j * DS + d - d0]; }
          o[t] += acc;
        }
      }
    }
  }

  if (i < p.Nq) {
    for (var t = 0u; t < DPT; t++) {
      let d = c + BK * t;
      if (d < p.D) { y_put(yBase + i * C + d, o[t] / l); }
    }
  }
}
