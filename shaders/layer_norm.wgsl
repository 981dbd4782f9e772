// Layer normalization over the last dim: x [rows, C] -> y [rows, C]; biased variance, eps inside the square
// root, y = xhat * gamma[c] + beta[c] (gamma, beta f32 or f16, read through gamma_at / beta_at). x and y are
// activations (f32 or f16 storage, x_at / y_put): statistics and normalization are f32 whatever the storage.
// Tiling: one workgroup per row, WG invocations striding over its C values (neighbouring invocations read
// neighbouring values; C is 320..1280 in the UNet, 768 in CLIP). Three passes over the row: sum -> mean, sum of
// squared deviations -> variance (two-pass, so a large mean does not cancel), then the normalized write; partial
// sums are f32, combined by a tree reduction in workgroup memory (WG must be a power of two). The row index is
// folded into rows of `row` workgroups for more than 65535 rows.

override WG: u32 = 128u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> gamma: array<gamma_t>;
@group(0) @binding(2) var<storage, read> beta: array<beta_t>;
@group(0) @binding(3) var<storage, read_write> y: array<y_t>;

struct Params {
  C: u32,    // normalized (last) dim
  rows: u32, // numel / C
  eps: f32,
  row: u32,  // workgroups per grid row
}
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> red: array<f32, WG>;

// Sum of v over the workgroup; every invocation gets the result.
fn wg_sum(v: f32, li: u32) -> f32 {
  red[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let r = wid.y * p.row + wid.x;
  if (r >= p.rows) { return; }
  let base = r * p.C;
  let inv_c = 1.0 / f32(p.C);

  var s = 0.0;
  for (var i = li; i < p.C; i += WG) { s += x_at(base + i); }
  let mean = wg_sum(s, li) * inv_c;

  var q = 0.0;
  for (var i = li; i < p.C; i += WG) {
    let d = x_at(base + i) - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(wg_sum(q, li) * inv_c + p.eps);

  for (var i = li; i < p.C; i += WG) {
    y_put(base + i, (x_at(base + i) - mean) * rstd * gamma_at(i) + beta_at(i));
  }
}
