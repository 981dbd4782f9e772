// Nearest-neighbour resize x [N,C,H,W] -> y [N,C,outH,outW] with PyTorch's 'nearest' rule
// src = floor(dst * in / out), in integer arithmetic (no float rounding at exact multiples).
// x and y are activations (f32 or f16 storage, x_at / y_put; the wrapper keeps x's dtype).
// Tiling: one invocation per output element; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read_write> y: array<y_t>;

struct Params {
  n: u32,  // elements in y
  H: u32,
  W: u32,
  outH: u32,
  outW: u32,
  row: u32,
}
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  let ox = i % p.outW;
  let oy = (i / p.outW) % p.outH;
  let nc = i / (p.outW * p.outH);  // n * C + c
  let sx = ox * p.W / p.outW;
  let sy = oy * p.H / p.outH;
  y_put(i, x_at((nc * p.H + sy) * p.W + sx));
}
