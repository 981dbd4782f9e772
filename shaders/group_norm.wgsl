// Group normalization (optionally fused with SiLU): x [N, C, ...spatial] -> y, same shape. Each (n, group)
// is normalized over its C/groups channels and all spatial positions, which in NCHW are one contiguous run of
// len = (C/groups) * S values. Biased variance, eps inside the square root, then y = xhat * gamma[c] + beta[c]
// (gamma, beta f32 or f16, read through gamma_at / beta_at), then SiLU when p.silu != 0. x and y are activations
// (f32 or f16 storage, x_at / y_put): statistics, normalization and SiLU are f32 whatever the storage.
// Tiling: one workgroup per (n, group), WG invocations striding over the run (neighbouring invocations read
// neighbouring values). Three passes over the run: sum -> mean, sum of squared deviations -> variance (two-pass,
// so a large mean does not cancel), then the normalized write; each partial sum is f32, combined by a tree
// reduction in workgroup memory (WG must be a power of two). At real scale a run is 40 channels x 4096 pixels
// (UNet) or 4 x 262144 (VAE at 512 x 512): one workgroup loops over it. The (n, group) index is folded into
// rows of `row` workgroups.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> gamma: array<gamma_t>;
@group(0) @binding(2) var<storage, read> beta: array<beta_t>;
@group(0) @binding(3) var<storage, read_write> y: array<y_t>;

struct Params {
  C: u32,      // channels
  S: u32,      // spatial positions per channel (product of the dims after C; 1 when none)
  groups: u32,
  units: u32,  // N * groups
  eps: f32,
  silu: u32,   // 1: apply SiLU after the affine transform
  row: u32,    // workgroups per grid row
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
  let u = wid.y * p.row + wid.x;
  if (u >= p.units) { return; }
  let cpg = p.C / p.groups;
  let c0 = (u % p.groups) * cpg; // first channel of the group
  let base = (u / p.groups) * p.C * p.S + c0 * p.S;
  let len = cpg * p.S;
  let inv_len = 1.0 / f32(len);

  var s = 0.0;
  for (var i = li; i < len; i += WG) { s += x_at(base + i); }
  let mean = wg_sum(s, li) * inv_len;

  var q = 0.0;
  for (var i = li; i < len; i += WG) {
    let d = x_at(base + i) - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(wg_sum(q, li) * inv_len + p.eps);

  for (var i = li; i < len; i += WG) {
    let c = c0 + i / p.S;
    var v = (x_at(base + i) - mean) * rstd * gamma_at(c) + beta_at(c);
    if (p.silu != 0u) { v = v / (1.0 + exp(-v)); }
    y_put(base + i, v);
  }
}
