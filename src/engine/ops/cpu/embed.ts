// Reference embeddings and image conversion. These reproduce PyTorch's / numpy's float32 rounding step by step
// (Math.fround), because the u8 images are compared exactly.
import { CpuTensor, empty, expectRank } from './tensor.ts';
import { shapeStr } from '../ops.ts';
import { timestepTable } from '../timestep.ts';

const f = Math.fround;

/** diffusers get_timestep_embedding (shared with the WebGPU backend, see ../timestep.ts). [N] -> [N, dim]. */
export function timestepEmbedding(timesteps: Float32Array, dim: number, flipSinToCos: boolean, freqShift: number): CpuTensor {
  const out = empty([timesteps.length, dim]);
  out.data.set(timestepTable(timesteps, dim, flipSinToCos, freqShift));
  return out;
}

/** ids [B*L] -> tokenTable[ids] + posTable[0..L-1]: [B, L, D]. */
export function embedding(ids: Int32Array, batch: number, tokenTable: CpuTensor, posTable: CpuTensor): CpuTensor {
  expectRank('embedding tokenTable', tokenTable, 2);
  expectRank('embedding posTable', posTable, 2);
  const [vocab, d] = tokenTable.shape;
  if (!(batch > 0) || ids.length % batch !== 0) throw new Error(`embedding: ${ids.length} ids in ${batch} rows`);
  const l = ids.length / batch;
  if (posTable.shape[1] !== d || posTable.shape[0] < l) {
    throw new Error(`embedding: posTable ${shapeStr(posTable.shape)} for L=${l}, D=${d}`);
  }
  const out = empty([batch, l, d]);
  for (let b = 0; b < batch; b++) {
    for (let p = 0; p < l; p++) {
      const id = ids[b * l + p];
      if (id < 0 || id >= vocab) throw new Error(`embedding: id ${id} outside vocabulary of ${vocab}`);
      for (let c = 0; c < d; c++) {
        out.data[(b * l + p) * d + c] = tokenTable.data[id * d + c] + posTable.data[p * d + c];
      }
    }
  }
  return out;
}

/** HWC RGB u8 -> [1,3,H,W]: f32(u8 / 255) * 2 - 1, as numpy then torch compute it in float32. */
export function imageToTensor(rgb: Uint8Array, h: number, w: number): CpuTensor {
  if (rgb.length !== h * w * 3) throw new Error(`imageToTensor: ${rgb.length} bytes for ${h}x${w}x3`);
  const out = empty([1, 3, h, w]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const v = f(rgb[(y * w + x) * 3 + c] / 255);
        out.data[(c * h + y) * w + x] = f(f(2 * v) - 1);
      }
    }
  }
  return out;
}

/** numpy's round: to nearest, ties to even. */
export function roundHalfEven(v: number): number {
  const fl = Math.floor(v);
  const frac = v - fl;
  if (frac > 0.5) return fl + 1;
  if (frac < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

/** [1,3,H,W] -> HWC RGB u8: round_half_even(f32(clamp(f32(x / 2 + 0.5), 0, 1) * 255)). */
export function tensorToImage(x: CpuTensor): Uint8Array {
  expectRank('tensorToImage x', x, 4);
  const [n, c, h, w] = x.shape;
  if (n !== 1 || c !== 3) throw new Error(`tensorToImage: expected [1,3,H,W], got ${shapeStr(x.shape)}`);
  const out = new Uint8Array(h * w * 3);
  for (let ci = 0; ci < 3; ci++) {
    for (let p = 0; p < h * w; p++) {
      const v = f(f(x.data[ci * h * w + p] / 2) + 0.5);
      const clamped = v < 0 ? 0 : v > 1 ? 1 : v; // a NaN stays NaN and is stored as 0
      out[p * 3 + ci] = roundHalfEven(f(clamped * 255));
    }
  }
  return out;
}
