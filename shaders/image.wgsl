// Image <-> tensor, picked by the DIR override. Both buffers are raw 32-bit words: the image side holds HWC RGB
// bytes packed four per word (little-endian), the tensor side [1,3,H,W] f32 bits.
//   DIR 0: bytes a -> tensor b, b = f32(u8) / 255 * 2 - 1            (one invocation per tensor element)
//   DIR 1: tensor a -> bytes b, u8 = round(clamp(x / 2 + 0.5, 0, 1) * 255), round = ties to even as numpy's
//          (WGSL round() rounds halfway cases to even)               (one invocation per output word)
// Tiling: one invocation per element or word; the grid is folded into 2D (flat index = gid.y * row + gid.x).

override WG: u32 = 256u;
override DIR: u32 = 0u;

@group(0) @binding(0) var<storage, read> a: array<u32>;
@group(0) @binding(1) var<storage, read_write> b: array<u32>;

struct Params {
  n: u32,   // invocations: tensor elements (DIR 0) or output words (DIR 1)
  HW: u32,  // pixels
  row: u32,
}
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.y * p.row + gid.x;
  if (i >= p.n) { return; }
  if (DIR == 0u) {
    let c = i / p.HW;
    let px = i % p.HW;
    let bi = px * 3u + c;
    let byte = (a[bi >> 2u] >> ((bi & 3u) * 8u)) & 0xffu;
    let v = f32(byte) / 255.0;
    b[i] = bitcast<u32>(v * 2.0 - 1.0);
  } else {
    var word = 0u;
    for (var k = 0u; k < 4u; k++) {
      let bi = i * 4u + k;
      if (bi < p.HW * 3u) {
        let x = bitcast<f32>(a[(bi % 3u) * p.HW + bi / 3u]);
        let u = round(clamp(x * 0.5 + 0.5, 0.0, 1.0) * 255.0);
        word |= u32(u) << (k * 8u);
      }
    }
    b[i] = word;
  }
}
