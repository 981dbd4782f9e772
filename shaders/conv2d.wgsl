// 2-D convolution, zero padding, as an implicit GEMM: output pixels (M = batch * ho * wo) x output channels
// (cout) x reduction K = cin * kh * kw. A[m, k] = x[img, ci, oy * stride - pad_t + ky, ox * stride - pad_l + kx]
// (zero outside the map) is gathered on the fly, never materialized; B[k, co] = w[co * K + k] (w [cout,cin,kh,kw]
// is already [cout, K]). x, y, res and cb are activations (x_at / y_put: f32 or f16 storage); w and bias f32 or
// f16 (w_at / bias_at); f32 accumulation.
// Layouts by strides: x element (img, ci, pixel) sits at img * cin * h * w + ci * x_cs + pixel * x_ps (NCHW:
// x_cs = h * w, x_ps = 1; NLC tokens: x_cs = 1, x_ps = cin), y likewise with y_cs / y_ps. With `up`, the
// convolution runs over x resized (nearest) to uh x uw: row iy of the resized map is row iy * h / uh of x.
// Epilogue: y = acc + bias[co] + cb[img * cb_row + cb_off + co] (per-item channel bias) + res[y index].
// Tiling: a workgroup of 256 invocations (16 x 16) owns 64 pixels x 64 output channels and walks K in steps of 16,
// staging A[64 px, 16 k] (each invocation always gathers the same pixel, decomposed once, so neighbouring
// invocations read neighbouring x positions) and w[64 co, 16 k] (loaded along k, contiguous) in workgroup memory
// (2 x 4 KiB, k-major). Each invocation keeps a 4 x 4 register tile: pixels tx + 16 i, channels ty + 16 j, so
// neighbouring invocations store neighbouring pixels of an NCHW plane. Edges load zeros and skip the store.
// Tiles are numbered (pixel tile, channel tile), channel fastest, folded into rows of `row` workgroups.
// Limits: every tensor is bound whole, so each must fit maxStorageBufferBindingSize; indices are u32.

override WG: u32 = 256u; // must stay 256: 16 x 16 invocations x 4 x 4 outputs cover the 64 x 64 tile

const TM = 64u; // pixels per tile
const TN = 64u; // output channels per tile
const TK = 16u;

@group(0) @binding(0) var<storage, read> x: array<x_t>;
@group(0) @binding(1) var<storage, read> w: array<w_t>;
@group(0) @binding(2) var<storage, read> bias: array<bias_t>;
@group(0) @binding(3) var<storage, read> cb: array<cb_t>;
@group(0) @binding(4) var<storage, read> res: array<res_t>;
@group(0) @binding(5) var<storage, read_write> y: array<y_t>;

struct Params {
  cin: u32,
  h: u32,        // x's own size
  w: u32,
  cout: u32,
  ho: u32,
  wo: u32,
  kh: u32,
  kw: u32,
  stride: u32,
  pad_t: u32,
  pad_l: u32,
  uh: u32,       // the convolved map's size: the upsample target, or h / w
  uw: u32,
  up: u32,       // 1: nearest-resize x from h x w to uh x uw
  x_cs: u32,     // x strides of a channel and of a pixel
  x_ps: u32,
  y_cs: u32,     // y strides of a channel and of a pixel
  y_ps: u32,
  M: u32,        // batch * ho * wo
  K: u32,        // cin * kh * kw
  has_bias: u32, // 0: bias is a dummy buffer
  has_cb: u32,   // 0: cb is a dummy buffer
  cb_row: u32,   // cb row length (S of the [N, S] table)
  cb_off: u32,   // first cb column of channel 0
  has_res: u32,  // 0: res is a dummy buffer
  tiles_n: u32,  // ceil(cout / 64)
  tiles: u32,    // ceil(M / 64) * tiles_n
  row: u32,      // workgroups per grid row
}
@group(0) @binding(6) var<uniform> p: Params;

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
        if (iy >= 0 && iy < i32(p.uh) && ix >= 0 && ix < i32(p.uw)) {
          var sy = u32(iy);
          var sx = u32(ix);
          if (p.up != 0u) {
            sy = sy * p.h / p.uh;
            sx = sx * p.w / p.uw;
          }
          a = x_at(xbase + ci * p.x_cs + (sy * p.w + sx) * p.x_ps);
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
      if (m >= p.M) { continue; }
      let img = m / plane;
      let o = img * p.cout * plane + co * p.y_cs + (m % plane) * p.y_ps;
      var v = acc[j][i] + b;
      if (p.has_cb != 0u) { v += cb_at(img * p.cb_row + p.cb_off + co); }
      if (p.has_res != 0u) { v += res_at(o); }
      y_put(o, v);
    }
  }
}
