// Strided block copy behind concat and slice. Both tensors are viewed as [outer, rowLen] with the axis folded
// into rowLen (axis size * inner); the block is `blk` contiguous elements per outer row, read at srcOff within a
// source row of srcRow elements and written at dstOff within a destination row of dstRow elements.
// x and y are activations of either storage (x_at / y_put): a copy between two dtypes converts (f16 -> f32 is
// exact). Tiling: one invocation per copied element; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read_write> y: array<y_t>;

struct Params {
  n: u32,  // elements copied = outer * blk
  blk: u32,
  srcRow: u32,
  srcOff: u32,
  dstRow: u32,
  dstOff: u32,
  row: u32,
}
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  let o = i / p.blk;
  let t = i % p.blk;
  y_put(o * p.dstRow + p.dstOff + t, x_at(o * p.srcRow + p.srcOff + t));
}
