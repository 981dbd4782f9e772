// Reference 2-D convolution: the plain seven-loop definition (NCHW, zero padding), summed in f64; the fused options
// (token layouts, nearest upsample, channel bias, residual) as the separate reference ops they replace, in order.
import type { Conv2dOptions } from '../ops.ts';
import { shapeStr } from '../ops.ts';
import { addPerChannel } from './elementwise.ts';
import { nchwToNlc, nlcToNchw, upsampleNearest } from './layout.ts';
import { CpuTensor, empty, expectRank, expectShape } from './tensor.ts';

/** Extra inputs of the fused options, already unwrapped to CPU tensors. */
export interface ConvExtras {
  channelBias: { table: CpuTensor; offset: number } | null;
  residual: CpuTensor | null;
}

/**
 * conv2d with every Conv2dOptions: x -> (tokens to NCHW) -> (nearest upsample) -> conv -> + table[:, offset:offset
 * + Cout] per channel -> + residual -> (NCHW to tokens). Each step rounds to f32 like the separate ops did.
 */
export function conv2dFused(x: CpuTensor, w: CpuTensor, b: CpuTensor | null, o: Conv2dOptions, e: ConvExtras): CpuTensor {
  let h = x;
  if (o.inputTokens) h = nlcToNchw(h, o.inputTokens[0], o.inputTokens[1]);
  if (o.upsample) h = upsampleNearest(h, o.upsample[0], o.upsample[1]);
  let y = conv2d(h, w, b, o);
  const [n, cout] = y.shape;
  if (e.channelBias) {
    const { table, offset } = e.channelBias;
    expectRank('conv2d channelBias table', table, 2);
    if (table.shape[0] !== n || offset < 0 || offset + cout > table.shape[1]) {
      throw new Error(`conv2d: channelBias table ${shapeStr(table.shape)} at ${offset} for ${n} x ${cout}`);
    }
    const cols = empty([n, cout]);
    for (let i = 0; i < n; i++) cols.data.set(table.data.subarray(i * table.shape[1] + offset, i * table.shape[1] + offset + cout), i * cout);
    y = addPerChannel(y, cols);
  }
  if (o.outputTokens) y = nchwToNlc(y);
  if (e.residual) {
    expectShape('conv2d residual', e.residual, y.shape);
    const r = e.residual.data, ys = y.data;
    for (let i = 0; i < ys.length; i++) ys[i] = ys[i] + r[i];
  }
  return y;
}

/** x [N,Cin,H,W], w [Cout,Cin,kh,kw], b [Cout] -> [N,Cout,Ho,Wo], Ho = floor((H + pt + pb - kh) / stride) + 1. */
export function conv2d(x: CpuTensor, w: CpuTensor, b: CpuTensor | null, o: Conv2dOptions = {}): CpuTensor {
  expectRank('conv2d x', x, 4);
  expectRank('conv2d w', w, 4);
  const [n, cin, h, wd] = x.shape;
  const [cout, wcin, kh, kw] = w.shape;
  if (wcin !== cin) throw new Error(`conv2d: x has ${cin} channels, weight expects ${wcin}`);
  if (b) expectShape('conv2d bias', b, [cout]);
  const stride = o.stride ?? 1;
  const [pt, pb, pl, pr] = o.pad ?? [Math.floor(kh / 2), Math.floor(kh / 2), Math.floor(kw / 2), Math.floor(kw / 2)];
  if (!(stride >= 1) || [pt, pb, pl, pr].some((p) => p < 0)) throw new Error('conv2d: bad stride or padding');
  const ho = Math.floor((h + pt + pb - kh) / stride) + 1;
  const wo = Math.floor((wd + pl + pr - kw) / stride) + 1;
  if (ho <= 0 || wo <= 0) throw new Error(`conv2d: empty output ${ho}x${wo}`);

  const out = empty([n, cout, ho, wo]);
  const xs = x.data, ws = w.data, os = out.data;
  const acc = new Float64Array(ho * wo); // one output plane, accumulated in f64
  for (let ni = 0; ni < n; ni++) {
    for (let co = 0; co < cout; co++) {
      acc.fill(b ? b.data[co] : 0);
      for (let ci = 0; ci < cin; ci++) {
        const xPlane = (ni * cin + ci) * h * wd;
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const wv = ws[((co * cin + ci) * kh + ky) * kw + kx];
            for (let oy = 0; oy < ho; oy++) {
              const iy = oy * stride - pt + ky;
              if (iy < 0 || iy >= h) continue; // zero padding
              const xRow = xPlane + iy * wd;
              for (let ox = 0; ox < wo; ox++) {
                const ix = ox * stride - pl + kx;
                if (ix < 0 || ix >= wd) continue;
                acc[oy * wo + ox] += wv * xs[xRow + ix];
              }
            }
          }
        }
      }
      os.set(acc, (ni * cout + co) * ho * wo); // rounds to f32
    }
  }
  return out;
}
