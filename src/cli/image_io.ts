// Node-side image files for the CLI: PNG and JPEG in (told apart by their first bytes, never by the file name),
// always as 8-bit RGB as the reference's PIL `convert("RGB")` gives it; PNG out with text metadata.
import { readFileSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { encodePng } from '../engine/image/png.ts';
import { rgbaToRgb, type RgbImage } from '../engine/image/resize.ts';

export type ImageFormat = 'png' | 'jpeg';

const SIGNATURES: [string, number[]][] = [
  ['png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['jpeg', [0xff, 0xd8, 0xff]],
  ['GIF', [0x47, 0x49, 0x46, 0x38]],
  ['BMP', [0x42, 0x4d]],
  ['TIFF', [0x49, 0x49, 0x2a, 0x00]],
  ['TIFF', [0x4d, 0x4d, 0x00, 0x2a]],
  ['WebP', [0x52, 0x49, 0x46, 0x46]], // RIFF....WEBP, checked below
];

/** 'png' | 'jpeg' for what we decode, another format's name for what we recognise but do not read, else null. */
export function sniffFormat(bytes: Uint8Array): string | null {
  for (const [name, sig] of SIGNATURES) {
    if (bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b)) {
      if (name === 'WebP' && String.fromCharCode(...bytes.subarray(8, 12)) !== 'WEBP') continue;
      return name;
    }
  }
  return null;
}

/** PNG of any colour type and depth -> RGB 8-bit (16-bit rounded to 8, palette expanded, grey spread, alpha dropped). */
function decodePng(bytes: Uint8Array): RgbImage {
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const { width, height, data, transColor, depth } = png as typeof png & { transColor?: number[]; depth: number };
  // pngjs blanks a tRNS-keyed pixel to (0,0,0,0); "convert to RGB" keeps its colour, which is the key colour itself.
  if (transColor && (png.colorType as number) !== 3) {
    const to8 = (v: number) => (depth === 8 ? v : Math.floor((v * 255) / (2 ** depth - 1) + 0.5));
    const key = transColor.length === 1 ? [0, 0, 0].map(() => to8(transColor[0])) : transColor.map(to8);
    for (let i = 0; i < width * height * 4; i += 4) {
      if (data[i + 3] === 0) [data[i], data[i + 1], data[i + 2]] = key;
    }
  }
  return rgbaToRgb(data, width, height);
}

/** The EXIF Orientation (1..8) of a JPEG's APP1 segment, 1 when absent. */
export function jpegOrientation(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = 2;
  while (o + 4 <= b.length && b[o] === 0xff) {
    const marker = b[o + 1];
    const len = dv.getUint16(o + 2);
    if (marker === 0xda || marker === 0xd9) break; // image data starts: no more metadata segments
    const seg = o + 4;
    if (marker === 0xe1 && len >= 16 && String.fromCharCode(...b.subarray(seg, seg + 6)) === 'Exif\0\0') {
      const tiff = seg + 6;
      const le = b[tiff] === 0x49;
      const ifd = tiff + dv.getUint32(tiff + 4, le);
      if (ifd + 2 > b.length) return 1;
      const n = dv.getUint16(ifd, le);
      for (let k = 0; k < n && ifd + 2 + 12 * (k + 1) <= b.length; k++) {
        const e = ifd + 2 + 12 * k;
        if (dv.getUint16(e, le) === 0x0112) {
          const v = dv.getUint16(e + 8, le);
          return v >= 1 && v <= 8 ? v : 1;
        }
      }
      return 1;
    }
    o += 2 + len;
  }
  return 1;
}

/** Turns a stored image upright as its EXIF Orientation says (what diffusers' load_image does with exif_transpose). */
export function applyOrientation(img: RgbImage, orientation: number): RgbImage {
  if (orientation === 1) return img;
  const { width: w, height: h } = img;
  const swap = orientation >= 5;
  const W = swap ? h : w;
  const H = swap ? w : h;
  // output (x, y) <- stored (sx, sy)
  const src: Record<number, (x: number, y: number) => [number, number]> = {
    2: (x, y) => [w - 1 - x, y],
    3: (x, y) => [w - 1 - x, h - 1 - y],
    4: (x, y) => [x, h - 1 - y],
    5: (x, y) => [y, x],
    6: (x, y) => [y, h - 1 - x],
    7: (x, y) => [w - 1 - y, h - 1 - x],
    8: (x, y) => [w - 1 - y, x],
  };
  const map = src[orientation];
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const [sx, sy] = map(x, y);
      out.set(img.data.subarray((sy * w + sx) * 3, (sy * w + sx) * 3 + 3), (y * W + x) * 3);
    }
  }
  return { width: W, height: H, data: out };
}

function decodeJpeg(bytes: Uint8Array): RgbImage {
  const d = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 2048 });
  return applyOrientation({ width: d.width, height: d.height, data: d.data }, jpegOrientation(bytes));
}

/** Decodes PNG or JPEG bytes; `name` is only for messages. Throws one-line errors. */
export function decodeImage(bytes: Uint8Array, name: string): { image: RgbImage; format: ImageFormat } {
  const format = sniffFormat(bytes);
  if (format === null) throw new Error(`${name}: not a PNG or JPEG image`);
  if (format !== 'png' && format !== 'jpeg') throw new Error(`${name}: ${format} images are not supported (use PNG or JPEG)`);
  try {
    return { image: format === 'png' ? decodePng(bytes) : decodeJpeg(bytes), format };
  } catch (e) {
    let why = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    if (/finished stream|unexpected end|end of (file|data)/i.test(why)) why = 'the file ends too early';
    throw new Error(`${name}: corrupt ${format.toUpperCase()} (${why})`);
  }
}

/** Reads and decodes an image file with messages for the usual mistakes. */
export function readImageFile(path: string): { image: RgbImage; format: ImageFormat } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`image not found: ${path}`);
    if (code === 'EISDIR') throw new Error(`${path} is a folder, not an image`);
    throw new Error(`cannot read image ${path} (${code ?? (e as Error).message})`);
  }
  return decodeImage(bytes, path);
}

/** Writes RGB as PNG with text chunks; refuses to replace an existing file unless `overwrite`. */
export function writePngFile(path: string, img: RgbImage, text: Record<string, string>, overwrite: boolean): void {
  const png = encodePng(img.data, img.width, img.height, text);
  try {
    writeFileSync(path, png, { flag: overwrite ? 'w' : 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new Error(`${path} already exists (pass --force to overwrite it)`);
    throw new Error(`cannot write ${path} (${code ?? (e as Error).message})`);
  }
}
