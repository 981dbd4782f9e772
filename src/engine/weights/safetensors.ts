// Reads and writes the safetensors format (8-byte little-endian header length, JSON header, raw data) from memory,
// a Blob (a dropped file, or a Node file through fs.openAsBlob) or a URL with HTTP Range requests, reading each
// tensor only when asked. The header is untrusted: it is validated as fully as the Python library does before use.
import { bf16BitsToF32, halfBitsToF32 } from './f16.ts';

export { bf16BitsToF32, f32ToHalfBits, halfBitsToF32 } from './f16.ts';

export type StDType = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8';
/** Byte offsets are relative to the start of the data section (after the header). */
export interface TensorInfo {
  name: string;
  dtype: StDType;
  shape: number[];
  begin: number;
  end: number;
}
export type HostArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;
/** F16 and BF16 data are raw Uint16Array bits. */
export interface HostTensor {
  dtype: StDType;
  shape: number[];
  data: HostArray;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export const DTYPE_BYTES: Record<StDType, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1 };
/** Same cap as the Python library: a longer header is not a safetensors file. */
export const MAX_HEADER_BYTES = 100_000_000;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('safetensors.ts needs a little-endian host');

/** Reads bytes [begin, end) of a file of `size` bytes. */
export interface RangeReader {
  readonly size: number;
  read(begin: number, end: number): Promise<Uint8Array>;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function fail(fileName: string, problem: string): never {
  throw new SafetensorsError(`${fileName}: ${problem}`);
}

/** Validates the 8-byte prefix against the file size; returns the header length. */
function headerLength(first8: Uint8Array, fileSize: number, fileName: string): number {
  if (fileSize < 8 || first8.length < 8) {
    fail(fileName, `file is ${fileSize} bytes, too small for a safetensors file (it starts with an 8-byte header length)`);
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    fail(fileName, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  if (8n + n > BigInt(fileSize)) {
    fail(fileName, `header length ${n} runs past the end of the file (${fileSize} bytes; truncated?)`);
  }
  return Number(n);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function tensorEntry(fileName: string, name: string, v: unknown, dataLen: number): TensorInfo {
  const where = `tensor "${name}"`;
  if (!isPlainObject(v)) fail(fileName, `${where}: header entry is not an object`);
  const dtype = v.dtype;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    fail(fileName, `${where} has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  const shape = v.shape;
  if (!Array.isArray(shape) || !shape.every(isIndex)) fail(fileName, `${where} has an invalid shape ${JSON.stringify(shape)}`);
  const offs = v.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !isIndex(offs[0]) || !isIndex(offs[1]) || offs[0] > offs[1]) {
    fail(fileName, `${where} has invalid data_offsets ${JSON.stringify(offs)}`);
  }
  const [begin, end] = offs as [number, number];
  if (end > dataLen) {
    fail(fileName, `${where} data_offsets [${begin}, ${end}] lie outside the data section (${dataLen} bytes; truncated?)`);
  }
  const need = numel(shape as number[]) * DTYPE_BYTES[dtype as StDType];
  if (need !== end - begin) {
    fail(fileName, `${where} has ${end - begin} bytes but ${dtype} x [${shape.join(', ')}] needs ${need}`);
  }
  return { name, dtype: dtype as StDType, shape: [...(shape as number[])], begin, end };
}

/** Parses and checks the JSON header: dtypes, shapes, sizes, and offsets that tile the data section exactly. */
function parseHeader(fileName: string, bytes: Uint8Array, dataLen: number) {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(fileName, 'header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(fileName, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) fail(fileName, `header is not a JSON object (found ${Array.isArray(json) ? 'an array' : typeof json})`);
  const metadata: Record<string, string> = Object.create(null);
  const infos = new Map<string, TensorInfo>();
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (v === null) continue;
      if (!isPlainObject(v)) fail(fileName, '__metadata__ is not an object');
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') fail(fileName, `__metadata__ value "${k}" is not a string`);
        metadata[k] = s;
      }
    } else {
      infos.set(name, tensorEntry(fileName, name, v, dataLen));
    }
  }
  // Offsets must tile [0, dataLen): sorted by begin, each tensor starts where the previous one ended.
  const sorted = [...infos.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let prev: TensorInfo | null = null;
  let covered = 0;
  for (const t of sorted) {
    if (prev && t.begin < covered) {
      fail(fileName, `tensors "${prev.name}" [${prev.begin}, ${prev.end}] and "${t.name}" [${t.begin}, ${t.end}] overlap`);
    }
    if (t.begin > covered) fail(fileName, `bytes [${covered}, ${t.begin}) of the data section before tensor "${t.name}" belong to no tensor`);
    covered = t.end;
    prev = t;
  }
  if (covered !== dataLen) fail(fileName, `${dataLen - covered} bytes after the last tensor belong to no tensor`);
  return { metadata, infos };
}

function typedView(dtype: StDType, bytes: Uint8Array): HostArray {
  const size = DTYPE_BYTES[dtype];
  const own = bytes.byteOffset % size === 0 ? bytes : bytes.slice(); // a slice starts at offset 0: aligned
  const n = own.byteLength / size;
  switch (dtype) {
    case 'F32':
      return new Float32Array(own.buffer, own.byteOffset, n);
    case 'F16':
    case 'BF16':
      return new Uint16Array(own.buffer, own.byteOffset, n);
    case 'I32':
      return new Int32Array(own.buffer, own.byteOffset, n);
    case 'I64':
      return new BigInt64Array(own.buffer, own.byteOffset, n);
    case 'U8':
      return own;
  }
}

export class SafetensorsFile {
  private constructor(
    readonly fileName: string,
    readonly metadata: Record<string, string>,
    private readonly infos: Map<string, TensorInfo>,
    private readonly dataStart: number,
    readonly byteLength: number,
    private readonly reader: RangeReader,
  ) {}

  /** Tensor data may share memory with `buf` (no copy when aligned). */
  static fromArrayBuffer(buf: ArrayBuffer | Uint8Array, fileName: string): SafetensorsFile {
    const bytes = buf instanceof Uint8Array ? buf : new Uint8Array(buf);
    const n = headerLength(bytes.subarray(0, 8), bytes.length, fileName);
    const { metadata, infos } = parseHeader(fileName, bytes.subarray(8, 8 + n), bytes.length - 8 - n);
    const reader: RangeReader = { size: bytes.length, read: async (a, b) => bytes.subarray(a, b) };
    return new SafetensorsFile(fileName, metadata, infos, 8 + n, bytes.length, reader);
  }

  /** Reads the header through `reader`, tensors later on demand. */
  static async fromReader(reader: RangeReader, fileName: string): Promise<SafetensorsFile> {
    const size = reader.size;
    if (size < 8) headerLength(new Uint8Array(0), size, fileName);
    const n = headerLength(await reader.read(0, 8), size, fileName);
    const header = await reader.read(8, 8 + n);
    if (header.length !== n) fail(fileName, `read ${header.length} header bytes, expected ${n}`);
    const { metadata, infos } = parseHeader(fileName, header, size - 8 - n);
    return new SafetensorsFile(fileName, metadata, infos, 8 + n, size, reader);
  }

  static fromBlob(blob: Blob, fileName: string): Promise<SafetensorsFile> {
    const reader: RangeReader = {
      size: blob.size,
      read: async (a, b) => new Uint8Array(await blob.slice(a, b).arrayBuffer()),
    };
    return SafetensorsFile.fromReader(reader, fileName);
  }

  /** First 8 bytes, then the header, then each tensor by HTTP Range; a server that ignores Range sends the whole
   * file once (status 200), which is then used from memory. */
  static async fromUrl(url: string, opts: { fetch?: typeof fetch; fileName?: string } = {}): Promise<SafetensorsFile> {
    const fileName = opts.fileName ?? urlFileName(url);
    const http = new HttpRanges(url, opts.fetch ?? globalThis.fetch.bind(globalThis), fileName);
    const first = await http.get(0, 8);
    if (http.whole) return SafetensorsFile.fromArrayBuffer(http.whole, fileName);
    const size = http.size;
    const n = headerLength(first, size, fileName);
    const reader: RangeReader = { size, read: (a, b) => http.get(a, b) };
    const header = await reader.read(8, 8 + n);
    const { metadata, infos } = parseHeader(fileName, header, size - 8 - n);
    return new SafetensorsFile(fileName, metadata, infos, 8 + n, size, reader);
  }

  /** Names in file order (by data offset). */
  keys(): string[] {
    return [...this.infos.values()].sort((a, b) => a.begin - b.begin || a.end - b.end).map((t) => t.name);
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.infos.get(name);
    if (!t) fail(this.fileName, `no tensor named "${name}"`);
    return t;
  }

  async read(name: string): Promise<HostTensor> {
    const t = this.info(name);
    const bytes = await this.reader.read(this.dataStart + t.begin, this.dataStart + t.end);
    if (bytes.length !== t.end - t.begin) fail(this.fileName, `read ${bytes.length} bytes for tensor "${name}", expected ${t.end - t.begin}`);
    return { dtype: t.dtype, shape: [...t.shape], data: typedView(t.dtype, bytes) };
  }

  /** Every tensor, reading runs of neighbouring tensors together in reads of up to `chunkBytes` (one HTTP request
   * per chunk instead of one per tensor); `onBytes` gets the bytes read so far. */
  async readAll(opts: { chunkBytes?: number; onBytes?: (done: number, total: number) => void } = {}): Promise<Map<string, HostTensor>> {
    const chunk = opts.chunkBytes ?? 64 << 20;
    const order = this.keys().map((k) => this.info(k));
    const total = order.length ? order[order.length - 1].end : 0;
    const out = new Map<string, HostTensor>();
    for (let i = 0; i < order.length; ) {
      let j = i + 1; // tensors [i, j) form one read; offsets tile the data section, so they are contiguous
      while (j < order.length && order[j].end - order[i].begin <= chunk) j++;
      const begin = order[i].begin;
      const bytes = await this.reader.read(this.dataStart + begin, this.dataStart + order[j - 1].end);
      if (bytes.length !== order[j - 1].end - begin) fail(this.fileName, `read ${bytes.length} bytes at offset ${begin}, expected ${order[j - 1].end - begin}`);
      for (const t of order.slice(i, j)) {
        out.set(t.name, { dtype: t.dtype, shape: [...t.shape], data: typedView(t.dtype, bytes.subarray(t.begin - begin, t.end - begin)) });
      }
      opts.onBytes?.(order[j - 1].end, total);
      i = j;
    }
    return out;
  }

  /** F32 as stored; F16/BF16 widened; integers converted. */
  async readF32(name: string): Promise<Float32Array> {
    return hostToF32(await this.read(name));
  }
}

export function hostToF32(t: HostTensor): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F16':
      return halfBitsToF32(t.data as Uint16Array);
    case 'BF16':
      return bf16BitsToF32(t.data as Uint16Array);
    case 'I64':
      return Float32Array.from(t.data as BigInt64Array, Number);
    default:
      return Float32Array.from(t.data as Int32Array | Uint8Array);
  }
}

function urlFileName(url: string): string {
  const path = url.split(/[?#]/)[0];
  const last = path.slice(path.lastIndexOf('/') + 1);
  try {
    return decodeURIComponent(last) || url;
  } catch {
    return last || url;
  }
}

/** Range GETs against one URL; remembers the file size (Content-Range) or the whole body if Range was ignored. */
class HttpRanges {
  size = -1;
  whole: Uint8Array | null = null;

  constructor(
    private readonly url: string,
    private readonly fetchFn: typeof fetch,
    private readonly fileName: string,
  ) {}

  async get(begin: number, end: number): Promise<Uint8Array> {
    if (this.whole) return this.whole.subarray(begin, end);
    if (end <= begin) return new Uint8Array(0);
    const range = `bytes=${begin}-${end - 1}`;
    let res: Response;
    try {
      res = await this.fetchFn(this.url, { headers: { Range: range } });
    } catch (e) {
      fail(this.fileName, `fetching ${this.url} failed: ${(e as Error).message}`);
    }
    if (res.status === 200) {
      // Range ignored: this is the whole file.
      const body = new Uint8Array(await res.arrayBuffer());
      if (this.size >= 0 && body.length !== this.size) {
        fail(this.fileName, `server sent the whole file as ${body.length} bytes, but reported ${this.size} before`);
      }
      this.whole = body;
      this.size = body.length;
      return body.subarray(begin, end);
    }
    if (res.status === 416) fail(this.fileName, `server refused ${range} (416 Range Not Satisfiable; file too small?)`);
    if (res.status !== 206) fail(this.fileName, `HTTP ${res.status} ${res.statusText} for ${this.url}`);
    const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range')?.trim() ?? '');
    if (!cr || Number(cr[1]) !== begin) {
      fail(this.fileName, `server answered ${range} with Content-Range ${JSON.stringify(res.headers.get('content-range'))}`);
    }
    if (cr[3] === '*') fail(this.fileName, `server did not report the file size (Content-Range: ${cr[0]})`);
    if (this.size < 0) this.size = Number(cr[3]);
    const body = new Uint8Array(await res.arrayBuffer());
    const want = Math.min(end, this.size) - begin;
    if (body.length !== want) fail(this.fileName, `server sent ${body.length} bytes for ${range}, expected ${want}`);
    return body;
  }
}

/** Bytes of a safetensors file, laid out as the Python library lays them out (so fixture files round-trip exactly):
 * tensors by element size, widest first, then by name; header padded with spaces to a multiple of 8. */
export function writeSafetensors(
  tensors: Record<string, { dtype: StDType; shape: number[]; data: HostArray }>,
  metadata?: Record<string, string>,
): Uint8Array<ArrayBuffer> {
  const names = Object.keys(tensors).sort((a, b) => {
    const r = DTYPE_BYTES[tensors[b].dtype] - DTYPE_BYTES[tensors[a].dtype]; // wider dtypes first (alignment)
    return r || (a < b ? -1 : a > b ? 1 : 0);
  });
  const parts: string[] = [];
  if (metadata) {
    const md = Object.keys(metadata).sort().map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`);
    parts.push(`"__metadata__":{${md.join(',')}}`);
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    if (!(t.dtype in DTYPE_BYTES)) throw new Error(`writeSafetensors: tensor "${name}" has unknown dtype ${t.dtype}`);
    const bytes = t.data.byteLength;
    if (t.data.BYTES_PER_ELEMENT !== DTYPE_BYTES[t.dtype] || bytes !== numel(t.shape) * DTYPE_BYTES[t.dtype]) {
      throw new Error(`writeSafetensors: tensor "${name}" data (${bytes} bytes) does not match ${t.dtype} x [${t.shape.join(', ')}]`);
    }
    const entry = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += bytes;
  }
  let header: Uint8Array = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded !== header.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(header);
    header = p;
  }
  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}
