// Turns what a person gives us (a picked, dropped or pasted file, an example photo) into RGBA pixels, with a
// clear reason when it cannot: not an image at all, a damaged or truncated file, too small. Very large photos are
// scaled down here (the engine scales again to the chosen Size); drawing helpers for the canvases live here too.

export interface RgbaImage {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, row-major; alpha is 255 (transparent images are flattened onto white). */
  rgba: Uint8ClampedArray;
}

export interface DecodedImage {
  image: RgbaImage;
  /** Set when the file was larger than MAX_SIDE and was scaled down on the way in. */
  original?: { width: number; height: number };
}

export class ImageInputError extends Error {
  override name = 'ImageInputError';
  constructor(
    readonly reason: 'not-image' | 'corrupt' | 'too-small' | 'unsupported',
    message: string,
  ) {
    super(message);
  }
}

/** Longest side kept in the page: above it a photo is scaled down at once (it would be scaled for the model anyway). */
export const MAX_SIDE = 2048;
const MIN_SIDE = 8;

type Kind = 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | 'avif' | 'ico' | 'svg';

function sniff(head: Uint8Array, mime: string): Kind | null {
  const at = (o: number, ...b: number[]) => b.every((v, i) => head[o + i] === v);
  const ascii = (o: number, n: number) => String.fromCharCode(...head.subarray(o, o + n));
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') return 'webp';
  if (ascii(0, 2) === 'BM') return 'bmp';
  if (ascii(4, 4) === 'ftyp' && /^(avif|avis|heic|heix|mif1)$/.test(ascii(8, 4))) return 'avif';
  if (at(0, 0, 0, 1, 0)) return 'ico';
  if (mime === 'image/svg+xml' || /^\s*(<\?xml|<svg)/i.test(ascii(0, Math.min(head.length, 64)))) return 'svg';
  return null;
}

/** A PNG is a chain of length-prefixed chunks ending in IEND; a cut-off download or copy breaks the chain. */
function pngIsComplete(bytes: Uint8Array): boolean {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 8;
  while (o + 12 <= bytes.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    if (o + 12 + len > bytes.length) return false;
    if (type === 'IEND') return true;
    o += 12 + len;
  }
  return false;
}

const label = (name: string) => (name ? `“${name}”` : 'This file');

export async function decodeImage(blob: Blob, name = ''): Promise<DecodedImage> {
  if (blob.size === 0) throw new ImageInputError('corrupt', `${label(name)} is empty (0 bytes).`);
  const head = new Uint8Array(await blob.slice(0, 64).arrayBuffer());
  const kind = sniff(head, blob.type);
  if (!kind) {
    const what = blob.type && !blob.type.startsWith('image/') ? ` (${blob.type})` : '';
    throw new ImageInputError(
      'not-image',
      `${label(name)} is not an image${what}. Choose a photo: PNG, JPEG, WebP, GIF, BMP or AVIF.`,
    );
  }
  if (kind === 'svg') {
    throw new ImageInputError('unsupported', `${label(name)} is an SVG drawing. Export it as PNG or JPEG first.`);
  }
  if (kind === 'png' && !pngIsComplete(new Uint8Array(await blob.arrayBuffer()))) {
    throw new ImageInputError(
      'corrupt',
      `${label(name)} is a PNG that ends early: the file is truncated or damaged (an interrupted download or copy?).`,
    );
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch {
    throw new ImageInputError(
      'corrupt',
      `${label(name)} looks like a ${kind.toUpperCase()} image but could not be decoded: the file is damaged or incomplete.`,
    );
  }
  const { width, height } = bitmap;
  if (width < MIN_SIDE || height < MIN_SIDE) {
    bitmap.close();
    throw new ImageInputError('too-small', `${label(name)} is only ${width}×${height} pixels; the model needs at least ${MIN_SIDE}×${MIN_SIDE}.`);
  }
  let original: DecodedImage['original'];
  if (Math.max(width, height) > MAX_SIDE) {
    const s = MAX_SIDE / Math.max(width, height);
    const w = Math.max(MIN_SIDE, Math.round(width * s));
    const h = Math.max(MIN_SIDE, Math.round(height * s));
    const small = await createImageBitmap(bitmap, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
    bitmap.close();
    bitmap = small;
    original = { width, height };
  }
  const image = bitmapToRgba(bitmap);
  bitmap.close();
  return { image, original };
}

function bitmapToRgba(bitmap: ImageBitmap): RgbaImage {
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new ImageInputError('unsupported', 'This browser cannot read image pixels (no 2D canvas).');
  ctx.fillStyle = '#fff'; // transparent areas become white: the model sees RGB only
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(bitmap, 0, 0);
  return { width, height, rgba: ctx.getImageData(0, 0, width, height).data };
}

/** Puts pixels on a canvas at their own resolution (CSS scales the element). */
export function drawRgba(canvas: HTMLCanvasElement, img: { width: number; height: number; data?: Uint8ClampedArray; rgba?: Uint8ClampedArray }): void {
  const data = img.rgba ?? img.data;
  if (!data) return;
  if (canvas.width !== img.width) canvas.width = img.width;
  if (canvas.height !== img.height) canvas.height = img.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) return;
  ctx.putImageData(new ImageData(new Uint8ClampedArray(data), img.width, img.height), 0, 0);
}

/** Draws pixels stretched to the canvas's current size (a small preview or a thumbnail), smoothed. */
export function drawScaled(canvas: HTMLCanvasElement, img: { width: number; height: number; data?: Uint8ClampedArray; rgba?: Uint8ClampedArray }): void {
  const data = img.rgba ?? img.data;
  const ctx = canvas.getContext('2d');
  if (!data || !ctx) return;
  const src = new OffscreenCanvas(img.width, img.height);
  src.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(data), img.width, img.height), 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
}
