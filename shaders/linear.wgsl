// Linear layer y[m, n] = sum_k x[m, k] * w[n, k] + bias[n]: x [M,K] f32 (M = every leading dim), w [N,K] and
// bias [N] f32 or f16 (read through w_at / bias_at), y [M,N] f32. Accumulation is f32.
// Tiling: a workgroup of 256 invocations (16 x 16) owns a 64 x 64 tile of y and walks K in steps of 16. Each step
// stages x[64 rows, 16 k] and w[64 cols, 16 k] in workgroup memory (2 x 4 KiB, stored k-major so the inner loop
// reads along m / n); both are loaded along k, the contiguous direction of both matrices, 16 invocations per row.
// Each invocation keeps a 4 x 4 register tile: rows ty + 16 i, columns tx + 16 j, so neighbouring invocations
// store neighbouring columns of y. Edges (M, N, K not multiples of 64 / 16) load zeros and skip the store.
// Tiles are numbered row-major (n fastest) and the launch is folded into rows of `row` workgroups, so any M x N
// stays under the 65535-workgroups-per-dimension limit.

override WG: u32 = 256u; // must stay 256: 16 x 16 invocations x 4 x 4 outputs cover the 64 x 64 tile

const TM = 64u;
const TN = 64u;
const TK = 16u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<w_t>;
@group(0) @binding(2) var<storage, read> bias: array<bias_t>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

struct Params {
  M: u32,        // rows of x and y
  N: u32,        // output features
  K: u32,        // input features
  has_bias: u32, // 0: bias is a dummy buffer
  tiles_n: u32,  // ceil(N / 64)
  tiles: u32,    // ceil(M / 64) * tiles_n
  row: u32,      // workgroups per grid row
}
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> xs: array<f32, 1024>; // [TK][TM]
var<workgroup> ws: array<f32, 1024>; // [TK][TN]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = wid.y * p.row + wid.x;
  if (t >= p.tiles) { return; }
  let m0 = (t / p.tiles_n) * TM;
  let n0 = (t % p.tiles_n) * TN;
  let tx = li % 16u;
  let ty = li / 16u;
  // Loader role: k offset li % 16, rows li / 16 + 16 r.
  let lk = li % TK;
  let lr = li / TK;

  var acc: array<vec4<f32>, 4>; // acc[i][j]: row ty + 16 i, column tx + 16 j
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    let k = k0 + lk;
    for (var r = 0u; r < 4u; r++) {
      let rr = lr + 16u * r;
      let m = m0 + rr;
      let n = n0 + rr;
      var a = 0.0;
      var b = 0.0;
      if (k < p.K && m < p.M) { a = x[m * p.K + k]; }
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

  for (var j = 0u; j < 4u; j++) {
    let n = n0 + tx + 16u * j;
    if (n >= p.N) { continue; }
    var b = 0.0;
    if (p.has_bias != 0u) { b = bias_at(n); }
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + ty + 16u * i;
      if (m < p.M) { y[m * p.N + n] = acc[i][j] + b; }
    }
  }
}
