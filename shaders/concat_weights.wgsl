// One part of concatWeights: copies a weight into its rows of the fused weight as raw 32-bit words, so f32, native
// f16 and packed f16 storage copy alike (f16 parts have an even element count, so every part starts on a word).
// Tiling: one invocation per word; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;

struct Params {
  n: u32,    // words in this part
  dst: u32,  // first word of the part in y
  row: u32,  // invocations per grid row
}
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  y[p.dst + i] = x[i];
}
