// GEGLU after its projection: x [..., 2C] -> y [..., C], y = x[..., :C] * gelu(x[..., C:]) with the exact erf GELU.
// x and y are activations (f32 or f16 storage, x_at / y_put); the GELU is computed in f32.
// Tiling: one invocation per output element; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read_write> y: array<y_t>;

struct Params {
  n: u32,    // elements in y
  C: u32,    // output channels (half of x's last dim)
  row: u32,  // invocations per grid row
}
@group(0) @binding(2) var<uniform> p: Params;

// erf by Abramowitz-Stegun 7.1.26 (1.5e-7 absolute), the same as shaders/elementwise.wgsl's GELU.
fn erf_approx(v: f32) -> f32 {
  let s = sign(v);
  let z = abs(v);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-z * z));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  let r = i / p.C;
  let c = i % p.C;
  let a = x_at(r * 2u * p.C + c);
  let g = x_at(r * 2u * p.C + p.C + c);
  y_put(i, a * (0.5 * g * (1.0 + erf_approx(g * 0.7071067811865476))));
}
