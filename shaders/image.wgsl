// u8 image -> tensor: HWC RGB bytes packed four per u32 word (little-endian) -> y [1,3,H,W] = f32(u8) / 255 * 2 - 1,
// written in the activation dtype (y_put: f32, or f16 where the runtime stores activations as f16). The reverse
// direction reads a tensor of either storage and is shaders/image_out.wgsl (its byte side is the output there).
// Tiling: one invocation per tensor element; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;

@group(0) @binding(0) var<storage, read> rgb: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<y_t>;

struct Params {
  n: u32,   // tensor elements = 3 * HW
  HW: u32,  // pixels
  row: u32,
}
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  let c = i / p.HW;
  let px = i % p.HW;
  let bi = px * 3u + c;
  let byte = (rgb[bi >> 2u] >> ((bi & 3u) * 8u)) & 0xffu;
  let v = f32(byte) / 255.0;
  y_put(i, v * 2.0 - 1.0);
}
