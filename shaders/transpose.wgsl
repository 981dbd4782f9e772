// Batched matrix transpose x [N, R, K] -> y [N, K, R]: NCHW -> NLC is (R, K) = (C, H*W), NLC -> NCHW is (H*W, C).
// x and y are activations (f32 or f16 storage, x_at / y_put; the wrapper keeps x's dtype; the tile is f32).
// Tiling: a 32x8 workgroup moves a 32x32 tile through workgroup memory (each invocation 4 rows), so both the
// reads and the writes are contiguous along a row; the tile stride is 33 to avoid bank conflicts.
// Grid: x = tile along K, y = tile along R, z = batch n.

override WG: u32 = 256u;  // 32 x 8

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read_write> y: array<y_t>;

struct Params {
  R: u32,
  K: u32,
}
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> tile: array<f32, 1056>;  // [32][33]

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let tx = lid % 32u;
  let ty = lid / 32u;
  let base = wid.z * p.R * p.K;
  let r0 = wid.y * 32u;
  let k0 = wid.x * 32u;
  for (var j = ty; j < 32u; j += 8u) {
    let r = r0 + j;
    let kk = k0 + tx;
    if (r < p.R && kk < p.K) { tile[j * 33u + tx] = x_at(base + r * p.K + kk); }
  }
  workgroupBarrier();
  for (var j = ty; j < 32u; j += 8u) {
    let kk = k0 + j;
    let r = r0 + tx;
    if (kk < p.K && r < p.R) { y_put(base + kk * p.R + r, tile[tx * 33u + j]); }
  }
}
