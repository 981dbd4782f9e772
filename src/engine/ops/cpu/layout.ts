// Reference layout ops: pure index arithmetic, values copied unchanged.
import { shapeStr } from '../ops.ts';
import { aroundAxis, CpuTensor, empty, expectRank } from './tensor.ts';

/**
 * Source index of output position `dst` when resizing `inSize` -> `outSize` with PyTorch 'nearest':
 * floor(dst * in / out), exact in integers. PyTorch 1.13 instead takes dst >> 1 when out == 2 * in and
 * otherwise floor(f32(dst) * f32(in / out)) in float32; the two agree for every out = 2 * in - 1 or 2 * in
 * (all the UNet's up-samplers produce; checked for in <= 512 in tests/unit/cpu_ops.test.ts), but can differ
 * for other ratios (14 -> 46 at dst 23: exactly 7, PyTorch 6).
 */
export function nearestSource(dst: number, inSize: number, outSize: number): number {
  return Math.min(Math.floor((dst * inSize) / outSize), inSize - 1);
}

/** x [N,C,H,W] -> [N,C,outH,outW]. */
export function upsampleNearest(x: CpuTensor, outH: number, outW: number): CpuTensor {
  expectRank('upsampleNearest x', x, 4);
  const [n, c, h, w] = x.shape;
  if (!(outH > 0 && outW > 0)) throw new Error(`upsampleNearest: bad size ${outH}x${outW}`);
  const out = empty([n, c, outH, outW]);
  const xs = x.data, os = out.data;
  for (let nc = 0; nc < n * c; nc++) {
    for (let oy = 0; oy < outH; oy++) {
      const iy = nearestSource(oy, h, outH);
      for (let ox = 0; ox < outW; ox++) {
        os[(nc * outH + oy) * outW + ox] = xs[(nc * h + iy) * w + nearestSource(ox, w, outW)];
      }
    }
  }
  return out;
}

/** Concatenation along `axis`; every other dim must match. */
export function concat(xs: readonly CpuTensor[], axis: number): CpuTensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const first = xs[0].shape;
  aroundAxis(first, axis); // validates the axis
  for (const t of xs) {
    if (t.shape.length !== first.length || t.shape.some((d, i) => i !== axis && d !== first[i])) {
      throw new Error(`concat on axis ${axis}: ${xs.map((u) => shapeStr(u.shape)).join(' ')}`);
    }
  }
  const total = xs.reduce((s, t) => s + t.shape[axis], 0);
  const shape = [...first];
  shape[axis] = total;
  const out = empty(shape);
  const { outer, inner } = aroundAxis(shape, axis);
  let offset = 0; // position along the axis where the current input starts
  for (const t of xs) {
    const size = t.shape[axis];
    for (let o = 0; o < outer; o++) {
      out.data.set(t.data.subarray(o * size * inner, (o + 1) * size * inner), (o * total + offset) * inner);
    }
    offset += size;
  }
  return out;
}

/** x[..., start:end, ...] along `axis`. */
export function slice(x: CpuTensor, axis: number, start: number, end: number): CpuTensor {
  const { outer, size, inner } = aroundAxis(x.shape, axis);
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= size)) {
    throw new Error(`slice: [${start}, ${end}) out of range on axis ${axis} of ${shapeStr(x.shape)}`);
  }
  const len = end - start;
  const shape = [...x.shape];
  shape[axis] = len;
  const out = empty(shape);
  for (let o = 0; o < outer; o++) {
    out.data.set(x.data.subarray((o * size + start) * inner, (o * size + end) * inner), o * len * inner);
  }
  return out;
}

/** [N,C,H,W] -> [N,H*W,C]. */
export function nchwToNlc(x: CpuTensor): CpuTensor {
  expectRank('nchwToNlc x', x, 4);
  const [n, c, h, w] = x.shape;
  const l = h * w;
  const out = empty([n, l, c]);
  for (let ni = 0; ni < n; ni++) {
    for (let ci = 0; ci < c; ci++) {
      for (let p = 0; p < l; p++) out.data[(ni * l + p) * c + ci] = x.data[(ni * c + ci) * l + p];
    }
  }
  return out;
}

/** [N,H*W,C] -> [N,C,H,W]. */
export function nlcToNchw(x: CpuTensor, h: number, w: number): CpuTensor {
  expectRank('nlcToNchw x', x, 3);
  const [n, l, c] = x.shape;
  if (l !== h * w) throw new Error(`nlcToNchw: ${l} positions is not ${h}x${w}`);
  const out = empty([n, c, h, w]);
  for (let ni = 0; ni < n; ni++) {
    for (let ci = 0; ci < c; ci++) {
      for (let p = 0; p < l; p++) out.data[(ni * c + ci) * l + p] = x.data[(ni * l + p) * c + ci];
    }
  }
  return out;
}
