// 2-D convolution, NCHW, zero padding, as an implicit GEMM: output pixels (M = batch * ho * wo) x output channels
// (cout) x reduction K = cin * kh * kw. A[m, k] = x[img, ci, oy * stride - pad_t + ky, ox * stride - pad_l + kx]
// (zero outside the image) is gathered on the fly, never materialized; B[k, co] = w[co * K + k] (w [cout,cin,kh,kw]
// is already [cout, K]). x and y are f32; w and bias f32 or f16 (read through w_at / bias_at); f32 accumulation.
// Tiling: a workgroup of 256 invocations (16 x 16) owns 64 pixels x 64 output channels and walks K in steps of 16,
// staging A[64 px, 16 k] (each invocation always gathers the same pixel, decomposed once, so neighbouring
// invocations read neighbouring x positions) and w[64 co, 16 k] (loaded along k, contiguous) in workgroup memory
// (2 x 4 KiB, k-major). Each invocation keeps a 4 x 4 register tile: pixels tx + 16 i, channels ty + 16 j, so
// neighbouring invocations store neighbouring pixels of an NCHW plane. Edges load zeros and skip the store.
// Tiles are numbered (pixel tile, channel tile), channel fastest, folded into rows of `row` workgroups.
// Limits: x, w and y are each bound whole, so each must fit maxStorageBufferBindingSize (128 MiB by default:
// the VAE's 128-channel 512 x 512 maps are exactly that); indices are u32.

override WG: u32 = 256u; // must stay 256: 16 x 16 invocations x 4 x 4 outputs cover the 64 x 64 tile

const TM = 64u; // pixels per tile
const TN = 64u; // output channels per tile
const TK = 16u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<w_t>;
@group(0) @binding(2) var<storage, read> bias: array<bias_t>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

struct Params {
  cin: u32,
  h: u32,
  w: u32,
  cout: u32,
  ho: u32,
  wo: u32,
  kh: u32,
  kw: u32,
  stride: u32,
  pad_t: u32,
  pad_l: u32,
  M: u32,        // batch * ho * wo
  K: u32,        // cin * kh * kw
  has_bias: u32, // 0: bias is a dummy buffer
  tiles_n: u32,  // ceil(cout / 64)
  tiles: u32,    // ceil(M / 64) * tiles_n
  row: u32,      // workgroups per grid row
}
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> xs: array<f32, 1024>; // [TK][TM]
var<workgroup> ws: array<f32, 1024>; // [TK][TN]

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = wid.y * p.row + wid.x;
  if (t >= p.tiles) { return; }
  let m0 = (t / p.tiles_n) * TM;
  let n0 = (t % p.tiles_n) * TN;
  let tx = li % 16u;
  let ty = li / 16u;
  let plane = p.ho * p.wo;
  let khw = p.kh * p.kw;

  // Gather role: pixel m0 + li % 64 (fixed for the whole K walk), k offsets li / 64 + 4 r.
  let gm = m0 + li % TM;
  let gk = li / TM;
  let gvalid = gm < p.M;
  let gimg = gm / plane;
  let gpix = gm % plane;
  let iy0 = i32((gpix / p.wo) * p.stride) - i32(p.pad_t);
  let ix0 = i32((gpix % p.wo) * p.stride) - i32(p.pad_l);
  let xbase = gimg * p.cin * p.h * p.w;
  // Weight role: k offset li % 16, channels li / 16 + 16 r.
  let lk = li % TK;
  let lc = li / TK;

  var acc: array<vec4<f32>, 4>; // acc[j][i]: channel ty + 16 j, pixel tx + 16 i
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var r = 0u; r < 4u; r++) {
      let k = k0 + gk + 4u * r;
      var a = 0.0;
      if (gvalid && k < p.K) {
        let ci = k / khw;
        let rem = k - ci * khw;
        let ky = rem / p.kw;
        let iy = iy0 + i32(ky);
        let ix = ix0 + i32(rem - ky * p.kw);
        if (iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w)) {
          a = x[xbase + (ci * p.h + u32(iy)) * p.w + u32(ix)];
        }
      }
      xs[(gk + 4u * r) * TM + li % TM] = a;
      let co = n0 + lc + 16u * r;
      let kb = k0 + lk;
      var b = 0.0;
      if (kb < p.K && co < p.cout) { b = w_at(co * p.K + kb); }
      ws[lk * TN + lc + 16u * r] = b;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let xv = vec4<f32>(xs[kk * TM + tx], xs[kk * TM + tx + 16u], xs[kk * TM + tx + 32u], xs[kk * TM + tx + 48u]);
      for (var j = 0u; j < 4u; j++) {
        acc[j] += ws[kk * TN + ty + 16u * j] * xv;
      }
    }
    workgroupBarrier();
  }

  for (var j = 0u; j < 4u; j++) {
    let co = n0 + ty + 16u * j;
    if (co >= p.cout) { continue; }
    var b = 0.0;
    if (p.has_bias != 0u) { b = bias_at(co); }
    for (var i = 0u; i < 4u; i++) {
      let m = m0 + tx + 16u * i;
      if (m < p.M) { y[((m / plane) * p.cout + co) * plane + m % plane] = acc[j][i] + b; }
    }
  }
}
