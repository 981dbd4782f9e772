// Tensor -> u8 image: x [1,3,H,W] (f32 or f16 storage, read through x_at) -> HWC RGB bytes packed four per u32
// word (little-endian), u8 = round(clamp(x / 2 + 0.5, 0, 1) * 255) with round = ties to even as numpy's (WGSL
// round() rounds halfway cases to even). The reverse direction is shaders/image.wgsl.
// Tiling: one invocation per output word; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read_write> rgb: array<u32>;

struct Params {
  n: u32,   // output words = ceil(3 * HW / 4)
  HW: u32,  // pixels
  row: u32,
}
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let bi = i * 4u + k;
    if (bi < p.HW * 3u) {
      let v = x_at((bi % 3u) * p.HW + bi / 3u);
      let u = round(clamp(v * 0.5 + 0.5, 0.0, 1.0) * 255.0);
      word |= u32(u) << (k * 8u);
    }
  }
  rgb[i] = word;
}
