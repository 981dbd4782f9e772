// Batched matrix product y[z] = a[z] @ b[z]: a [B,M,K], b [B,K,N], y [B,M,N], all activations (a_at / b_at / y_put:
// f32 or f16 storage), f32 accumulation.
// Tiling: a workgroup of 256 invocations (16 x 16) owns a 64 x 64 tile of one batch entry's y and walks K in steps
// of 16. Each step stages a[64 rows, 16 k] (loaded along k, 16 invocations per row) and b[16 k, 64 cols] (loaded
// along n, 64 invocations per row) in workgroup memory, both stored k-major (2 x 4 KiB). Each invocation keeps a
// 4 x 4 register tile: rows ty + 16 i, columns tx + 16 j, so neighbouring invocations store neighbouring columns.
// Edges load zeros and skip the store. Tiles are numbered (batch, tile row, tile column), column fastest, and the
// launch is folded into rows of `row` workgroups to stay under the 65535-workgroups-per-dimension limit.

override WG: u32 = 256u; // must stay 256: 16 x 16 invocations x 4 x 4 outputs cover the 64 x 64 tile

const TM = 64u;
const TN = 64u;
const TK = 16u;

@group(0) @binding(0) var<storage, read> a: array<a_t>;
@group(0) @binding(1) var<storage, read> b: array<b_t>;
@group(0) @binding(2) var<storage, read_write> y: array<y_t>;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  tiles_n: u32,  // ceil(N / 64)
  tiles_mn: u32, // ceil(M / 64) * tiles_n: tiles per batch entry
  tiles: u32,    // B * tiles_mn
  row: u32,      // workgroups per grid row
}
@group(0) @binding(3) var<uniform> p: Params;

var<workgroup> as_: array<f32, 1024>; // [TK][TM]
var<workgroup> bs: array<f32, 1024>;  // [TK][TN]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = wid.y * p.row + wid.x;
  if (t >= p.tiles) { return; }
  let z = t / p.tiles_mn;
  let tmn = t % p.tiles_mn;
  let m0 = (tmn / p.tiles_n) * TM;
  let n0 = (tmn % p.tiles_n) * TN;
  let a0 = z * p.M * p.K;
  let b0 = z * p.K * p.N;
  let tx = li % 16u;
  let ty = li / 16u;
  // Loader roles: for a, k offset li % 16 and rows li / 16 + 16 r; for b, column li % 64 and k rows li / 64 + 4 r.
  let ak = li % TK;
  let ar = li / TK;
  let bn = li % TN;
  let bk = li / TN;

  var acc: array<vec4<f32>, 4>; // acc[i][j]: row ty + 16 i, column tx + 16 j
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var r = 0u; r < 4u; r++) {
      let m = m0 + ar + 16u * r;
      let ka = k0 + ak;
      var va = 0.0;
      if (ka < p.K && m < p.M) { va = a_at(a0 + m * p.K + ka); }
      as_[ak * TM + ar + 16u * r] = va;
      let kb = k0 + bk + 4u * r;
      let n = n0 + bn;
      var vb = 0.0;
      if (kb < p.K && n < p.N) { vb = b_at(b0 + kb * p.N + n); }
      bs[(bk + 4u * r) * TN + bn] = vb;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let bv = vec4<f32>(bs[kk * TN + tx], bs[kk * TN + tx + 16u], bs[kk * TN + tx + 32u], bs[kk * TN + tx + 48u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += as_[kk * TM + ty + 16u * i] * bv;
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    if (m >= p.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + 16u * j;
      if (n < p.N) { y_put(z * p.M * p.N + m * p.N + n, acc[i][j]); }
    }
  }
}
