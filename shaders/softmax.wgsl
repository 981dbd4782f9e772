// Numerically stable softmax over the last dim: y = exp(x - max) / sum(exp(x - max)), row by row. x and y are
// activations (f32 or f16 storage, x_at / y_put); the max, the exponentials and the sum are f32 in any case.
// Tiling: one workgroup per row; its WG invocations stride over the row, then reduce the max and the sum through
// workgroup memory in a tree (WG must be a power of two). Rows are folded into a 2D grid: row = wid.y * gx + wid.x.

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read_write> y: array<y_t>;

struct Params {
  rows: u32,
  n: u32,   // row length (the last dim)
  gx: u32,  // workgroups per grid row
}
@group(0) @binding(2) var<uniform> p: Params;

var<workgroup> red: array<f32, WG>;

// Tree reduction of red[] (max when op is 0, sum otherwise); every invocation gets the result.
fn reduce(lid: u32, op: u32) -> f32 {
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      let a = red[lid];
      let b = red[lid + s];
      red[lid] = select(a + b, max(a, b), op == 0u);
    }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.y * p.gx + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.n;
  var mx = -3.4e38;
  for (var j = lid; j < p.n; j += WG) { mx = max(mx, x_at(base + j)); }
  red[lid] = mx;
  mx = reduce(lid, 0u);
  var sum = 0.0;
  for (var j = lid; j < p.n; j += WG) { sum += exp(x_at(base + j) - mx); }
  red[lid] = sum;
  sum = reduce(lid, 1u);
  for (var j = lid; j < p.n; j += WG) { y_put(base + j, exp(x_at(base + j) - mx) / sum); }
}
