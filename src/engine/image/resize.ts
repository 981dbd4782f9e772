// Image size rules and resampling before the VAE.
//
// The rule (documented in the README): keep the aspect ratio; if the longer side exceeds maxSize, scale so that it
// equals maxSize (sides rounded to the nearest pixel); then round each side DOWN to a multiple of 8, as diffusers'
// VaeImageProcessor does. Sides under 8 pixels are rejected. Resampling is Lanczos-3 (PIL's LANCZOS filter:
// support widened by the downscale factor, weights normalized per output pixel), separable, in float, rounded to u8.

export interface RgbImage {
  width: number;
  height: number;
  /** RGB, 3 bytes per pixel, row-major. */
  data: Uint8Array;
}

export function targetSize(width: number, height: number, maxSize = 512): { width: number; height: number; scaled: boolean } {
  if (width < 8 || height < 8) throw new Error(`image ${width}x${height} is too small: both sides must be at least 8 pixels`);
  let w = width;
  let h = height;
  const long = Math.max(w, h);
  let scaled = false;
  if (long > maxSize) {
    const s = maxSize / long;
    w = Math.max(8, Math.round(width * s));
    h = Math.max(8, Math.round(height * s));
    scaled = true;
  }
  return { width: w - (w % 8), height: h - (h % 8), scaled };
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function lanczos3(x: number): number {
  return x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0;
}

/** Resamples one axis: `n` lines of `inLen` samples (stride between samples `step`) to `outLen`. */
function weights(inLen: number, outLen: number): { start: Int32Array; size: number; w: Float64Array } {
  const scale = inLen / outLen;
  const fscale = Math.max(scale, 1);
  const support = 3 * fscale;
  const size = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outLen);
  const w = new Float64Array(outLen * size);
  for (let o = 0; o < outLen; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support + 0.5));
    const hi = Math.min(inLen, Math.floor(center + support + 0.5));
    start[o] = lo;
    let sum = 0;
    for (let i = lo; i < hi; i++) sum += w[o * size + i - lo] = lanczos3((i - center + 0.5) / fscale);
    for (let i = lo; i < hi; i++) w[o * size + i - lo] /= sum || 1;
  }
  return { start, size, w };
}

export function resizeRgb(img: RgbImage, width: number, height: number): RgbImage {
  if (img.width === width && img.height === height) return { width, height, data: img.data.slice() };
  // 1. horizontal pass -> float [img.height, width, 3]
  const wx = weights(img.width, width);
  const tmp = new Float32Array(img.height * width * 3);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < width; x++) {
      const s = wx.start[x];
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let k = 0; k < wx.size && s + k < img.width; k++) acc += wx.w[x * wx.size + k] * img.data[(y * img.width + s + k) * 3 + c];
        tmp[(y * width + x) * 3 + c] = acc;
      }
    }
  }
  // 2. vertical pass -> u8 [height, width, 3]
  const wy = weights(img.height, height);
  const out = new Uint8Array(height * width * 3);
  for (let y = 0; y < height; y++) {
    const s = wy.start[y];
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let k = 0; k < wy.size && s + k < img.height; k++) acc += wy.w[y * wy.size + k] * tmp[((s + k) * width + x) * 3 + c];
        out[(y * width + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
  }
  return { width, height, data: out };
}

/** Drops alpha from RGBA (ImageData, decoded PNGs) by compositing over... nothing: the reference converts to RGB. */
export function rgbaToRgb(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height * 4; i += 4, j += 3) {
    out[j] = rgba[i];
    out[j + 1] = rgba[i + 1];
    out[j + 2] = rgba[i + 2];
  }
  return { width, height, data: out };
}

/** The image the pipeline feeds the VAE: scaled to maxSize and multiples of 8 by the rule above. */
export function prepareImage(img: RgbImage, maxSize = 512): { image: RgbImage; scaled: boolean } {
  const t = targetSize(img.width, img.height, maxSize);
  return { image: resizeRgb(img, t.width, t.height), scaled: t.scaled || t.width !== img.width || t.height !== img.height };
}
