// Token + position embedding: y[b, l, :] = tok[ids[b*L + l], :] + pos[l, :]; ids [B*L] u32, tables [V, D] and
// [P, D] may be stored as f16 (read through tok_at / pos_at). y [B, L, D] is an activation (f32 or f16, y_put);
// the sum is f32.
// Tiling: one invocation per output element; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> ids: array<u32>;
@group(0) @binding(1) var<storage, read> tok: array<tok_t>;
@group(0) @binding(2) var<storage, read> pos: array<pos_t>;
@group(0) @binding(3) var<storage, read_write> y: array<y_t>;

struct Params {
  n: u32,  // elements in y = B * L * D
  L: u32,
  D: u32,
  row: u32,
}
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  let t = i / p.D;  // b * L + l
  let d = i % p.D;
  let l = t % p.L;
  y_put(i, tok_at(ids[t] * p.D + d) + pos_at(l * p.D + d));
}
