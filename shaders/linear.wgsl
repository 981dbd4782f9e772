// Linear layer h[m, n] = sum_k x[m, k] * w[n, k] + bias[n]: x [M,K] (M = every leading dim), w [N,K], bias, gamma
// and beta f32 or f16 (w_at / bias_at / ...); x, res and y are activations (x_at / y_put: f32 or f16). f32 math.
// Prologue (has_ln): x rows are layer-normalized on load, x[m, k] -> (x - mean_m) * rstd_m * gamma[k] + beta[k], as
// shaders/layer_norm.wgsl computes it (two-pass f32 statistics of the tile's 64 rows before the K walk).
// Epilogues: y[m, n] = h[m, n] + res[m, n]; or with `geglu`, D = N / 2 outputs y[m, c] = h[m, c] * gelu(h[m, D + c])
// (+ res[m, c]), the exact-erf GELU as shaders/geglu.wgsl computes it.
// Tiling: a workgroup of 256 invocations (16 x 16) owns a 64 x 64 tile of h and walks K in steps of 16. Each step
// stages x[64 rows, 16 k] and w[64 cols, 16 k] in workgroup memory (2 x 4 KiB, stored k-major so the inner loop
// reads along m / n); both are loaded along k, the contiguous direction of both matrices, 16 invocations per row.
// Each invocation keeps a 4 x 4 register tile: rows ty + 16 i, columns tx + 16 j, so neighbouring invocations
// store neighbouring columns of y. With geglu a tile's 64 columns are 32 value columns c0..c0+31 then their 32
// gate columns D+c0..: column tx + 16 j (j = 0, 1) and its gate tx + 16 (j + 2) sit in the same invocation.
// Edges (M, N, K not multiples of the tile) load zeros and skip the store. Tiles are numbered row-major (n fastest)
// and the launch is folded into rows of `row` workgroups, so any M x N stays under the 65535-per-dimension limit.

override WG: u32 = 256u; // must stay 256: 16 x 16 invocations x 4 x 4 outputs cover the 64 x 64 tile

const TM = 64u;
const TN = 64u;
const TK = 16u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> w: array<w_t>;
@group(0) @binding(2) var<storage, read> bias: array<bias_t>;
@group(0) @binding(3) var<storage, read> gamma: array<gamma_t>;
@group(0) @binding(4) var<storage, read> beta: array<beta_t>;
@group(0) @binding(5) var<storage, read> res: array<res_t>;
@group(0) @binding(6) var<storage, read_write> y: array<y_t>;

struct Params {
  M: u32,        // rows of x and y
  N: u32,        // rows of w (GEMM columns)
  K: u32,        // input features
  D: u32,        // columns of y: N, or N / 2 with geglu
  geglu: u32,    // 1: GEGLU epilogue
  has_bias: u32, // 0: bias is a dummy buffer
  has_ln: u32,   // 1: layer-normalize x rows (gamma, beta real), else gamma and beta are dummies
  eps: f32,      // the layer norm's eps
  has_res: u32,  // 0: res is a dummy buffer
  tiles_n: u32,  // column tiles: ceil(D / 64), or ceil(D / 32) with geglu
  tiles: u32,    // ceil(M / 64) * tiles_n
  row: u32,      // workgroups per grid row
}
@group(0) @binding(7) var<uniform> p: Params;

var<workgroup> xs: array<f32, 1024>; // [TK][TM]
var<workgroup> ws: array<f32, 1024>; // [TK][TN]
var<workgroup> part: array<f32, 256>; // layer-norm partial sums: 4 per row
var<workgroup> mean: array<f32, 64>;  // per tile row
var<workgroup> rstd: array<f32, 64>;

// Statistics of the tile's rows m0..m0+63: invocation li sums k = li % 4, li % 4 + 4, ... of row li / 4; the 4
// partial sums of a row are added in a fixed order. Rows past M get mean 0, rstd 0.
fn row_stats(m0: u32, li: u32) {
  let r = li / 4u;
  let m = m0 + r;
  let inv_k = 1.0 / f32(p.K);
  var s = 0.0;
  if (m < p.M) { for (var k = li % 4u; k < p.K; k += 4u) { s += x_at(m * p.K + k); } }
  part[li] = s;
  workgroupBarrier();
  if (li < 64u) { mean[li] = (part[4u * li] + part[4u * li + 1u] + part[4u * li + 2u] + part[4u * li + 3u]) * inv_k; }
  workgroupBarrier();
  let mu = mean[r];
  var q = 0.0;
  if (m < p.M) {
    for (var k = li % 4u; k < p.K; k += 4u) {
      let d = x_at(m * p.K + k) - mu;
      q += d * d;
    }
  }
  part[li] = q;
  workgroupBarrier();
  if (li < 64u) {
    let v = (part[4u * li] + part[4u * li + 1u] + part[4u * li + 2u] + part[4u * li + 3u]) * inv_k;
    rstd[li] = select(0.0, inverseSqrt(v + p.eps), m0 + li < p.M);
  }
  workgroupBarrier();
}

// erf by Abramowitz-Stegun 7.1.26 (1.5e-7 absolute), as shaders/geglu.wgsl and shaders/elementwise.wgsl.
fn erf_approx(v: f32) -> f32 {
  let s = sign(v);
  let z = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-z * z));
}

fn bias_or_zero(n: u32) -> f32 {
  if (p.has_bias != 0u) { return bias_at(n); }
  return 0.0;
}

// The weight row behind tile column c (0..63) of a tile starting at n0, or N when it is past the edge.
fn weight_row(n0: u32, c: u32) -> u32 {
  if (p.geglu == 0u) { return select(p.N, n0 + c, n0 + c < p.N); }
  let oc = n0 + c % 32u;
  return select(p.N, (c / 32u) * p.D + oc, oc < p.D);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = wid.y * p.row + wid.x;
  if (t >= p.tiles) { return; }
  let m0 = (t / p.tiles_n) * TM;
  let n0 = (t % p.tiles_n) * select(TN, TN / 2u, p.geglu != 0u); // first column of y this tile writes
  let tx = li % 16u;
  let ty = li / 16u;
  // Loader role: k offset li % 16, rows li / 16 + 16 r.
  let lk = li % TK;
  let lr = li / TK;
  if (p.has_ln != 0u) { row_stats(m0, li); }

  var acc: array<vec4<f32>, 4>; // acc[i][j]: row ty + 16 i, column tx + 16 j
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    let k = k0 + lk;
    for (var r = 0u; r < 4u; r++) {
      let rr = lr + 16u * r;
      let m = m0 + rr;
      let n = weight_row(n0, rr);
      var a = 0.0;
      var b = 0.0;
      if (k < p.K && m < p.M) {
        a = x_at(m * p.K + k);
        if (p.has_ln != 0u) { a = (a - mean[rr]) * rstd[rr] * gamma_at(k) + beta_at(k); }
      }
      if (k < p.K && n < p.N) { b = w_at(n * p.K + k); }
      xs[lk * TM + rr] = a;
      ws[lk * TN + rr] = b;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let wv = vec4<f32>(ws[kk * TN + tx], ws[kk * TN + tx + 16u], ws[kk * TN + tx + 32u], ws[kk * TN + tx + 48u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += xs[kk * TM + ty + 16u * i] * wv;
      }
    }
    workgroupBarrier();
  }

  let outs = select(4u, 2u, p.geglu != 0u); // y columns per invocation
  for (var j = 0u; j < outs; j++) {
    let c = n0 + tx + 16u * j;
    if (c >= p.D) { continue; }
    let b = bias_or_zero(c);
    var bg = 0.0;
    if (p.geglu != 0u) { bg = bias_or_zero(p.D + c); }
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + ty + 16u * i;
      if (m >= p.M) { continue; }
      var v = acc[i][j] + b;
      if (p.geglu != 0u) {
        let g = acc[i][j + 2u] + bg;
        v = v * (0.5 * g * (1.0 + erf_approx(g * 0.7071067811865476)));
      }
      if (p.has_res != 0u) { v += res_at(m * p.D + c); }
      y_put(m * p.D + c, v);
    }
  }
}
