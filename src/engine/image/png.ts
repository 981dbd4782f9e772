// PNG writing with text metadata (tEXt for Latin-1, iTXt for the rest) and reading those chunks back; runs in the
// browser and in Node (zlib through fflate). Decoding pixels is left to the platform (createImageBitmap) or pngjs.
import { zlibSync, strToU8 } from 'fflate';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = CRC_TABLE[(c ^ p[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  const t = strToU8(type);
  out.set(t, 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32([t, data]));
  return out;
}

function isLatin1(s: string): boolean {
  return /^[\x20-\x7e\xa0-\xff\n]*$/.test(s);
}

function textChunk(key: string, value: string): Uint8Array {
  if (isLatin1(value)) {
    const bytes = new Uint8Array(key.length + 1 + value.length);
    for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i);
    for (let i = 0; i < value.length; i++) bytes[key.length + 1 + i] = value.charCodeAt(i);
    return chunk('tEXt', bytes);
  }
  // iTXt: keyword \0 compression flag 0, method 0, empty language tag \0, empty translated keyword \0, UTF-8 text
  const k = strToU8(key);
  const v = new TextEncoder().encode(value);
  const bytes = new Uint8Array(k.length + 5 + v.length);
  bytes.set(k, 0);
  bytes.set(v, k.length + 5);
  return chunk('iTXt', bytes);
}

/** RGB (3 bytes per pixel) -> PNG bytes with the given text metadata. */
export function encodePng(rgb: Uint8Array, width: number, height: number, text: Record<string, string> = {}): Uint8Array {
  if (rgb.length !== width * height * 3) throw new Error(`encodePng: ${rgb.length} bytes for ${width}x${height} RGB`);
  const raw = new Uint8Array((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (width * 3 + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, adaptive filtering, no interlace
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...Object.entries(text).map(([k, v]) => textChunk(k, v)),
    chunk('IDAT', zlibSync(raw, { level: 6 })),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The tEXt / iTXt (uncompressed) entries of a PNG file. */
export function readPngText(png: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let o = 8;
  while (o + 8 <= png.length) {
    const len = dv.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    if (type === 'tEXt') {
      const z = data.indexOf(0);
      out[String.fromCharCode(...data.subarray(0, z))] = Array.from(data.subarray(z + 1), (c) => String.fromCharCode(c)).join('');
    } else if (type === 'iTXt') {
      const z = data.indexOf(0);
      const key = String.fromCharCode(...data.subarray(0, z));
      if (data[z + 1] === 0) {
        let p = z + 3;
        p = data.indexOf(0, p) + 1; // language tag
        p = data.indexOf(0, p) + 1; // translated keyword
        out[key] = new TextDecoder().decode(data.subarray(p));
      }
    }
    if (type === 'IEND') break;
    o += 12 + len;
  }
  return out;
}
