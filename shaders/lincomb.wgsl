// lincomb: y = c0 * t0 + c1 * t1 + c2 * t2 + c3 * t3 over flat arrays, in f32 and in this order (the guidance
// combine and the scheduler steps). Each term reads its tensor from an element offset (a batch entry of a bigger
// tensor); terms past `terms` are dummies never read. The inputs are activations (t_at: f32 or f16 storage); y is
// always f32. Tiling: one invocation per element; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> t0: array<t0_t>;
@group(0) @binding(1) var<storage, read> t1: array<t1_t>;
@group(0) @binding(2) var<storage, read> t2: array<t2_t>;
@group(0) @binding(3) var<storage, read> t3: array<t3_t>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

struct Params {
  n: u32,      // elements in y
  terms: u32,  // 1..4
  off0: u32,   // element offset of each term
  off1: u32,
  off2: u32,
  off3: u32,
  c0: f32,
  c1: f32,
  c2: f32,
  c3: f32,
  row: u32,    // invocations per grid row
}
@group(0) @binding(5) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  var acc = p.c0 * t0_at(p.off0 + i);
  if (p.terms > 1u) { acc += p.c1 * t1_at(p.off1 + i); }
  if (p.terms > 2u) { acc += p.c2 * t2_at(p.off2 + i); }
  if (p.terms > 3u) { acc += p.c3 * t3_at(p.off3 + i); }
  y[i] = acc;
}
