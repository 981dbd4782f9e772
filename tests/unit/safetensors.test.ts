// The safetensors reader/writer against the reference's own files (byte-identical rewrite, golden statistics),
// hand-made malformed files (each with its message), random corruption, and lazy reads over HTTP Range.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SafetensorsError,
  SafetensorsFile,
  bf16BitsToF32,
  f32ToHalfBits,
  halfBitsToF32,
  writeSafetensors,
  type HostArray,
  type StDType,
} from '../../src/engine/weights/safetensors.ts';
import { serveFolder, type TestServer } from '../helpers/http_server.ts';

const MODEL = fileURLToPath(new URL('../../models/tiny-ip2p/', import.meta.url));
const bytesOf = (rel: string) => new Uint8Array(readFileSync(MODEL + rel));
const cases = JSON.parse(readFileSync(MODEL + 'golden/cases.json', 'utf8')) as {
  tensors: Record<string, { file: string; dtype: StDType; shape: number[]; stats?: Record<string, number>; values?: number[] }>;
};

/** A file with a hand-written header text and `dataLen` zero bytes of data. */
function craft(header: string, dataLen: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

function expectError(fn: () => unknown, re: RegExp, name = 'bad.safetensors') {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SafetensorsError);
  expect((err as Error).message.startsWith(`${name}: `)).toBe(true);
  expect((err as Error).message).toMatch(re);
}

const small: Record<string, { dtype: StDType; shape: number[]; data: HostArray }> = {
  'a.f32': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-8, -7]) },
  'b.f16': { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) },
  'c.bf16': { dtype: 'BF16', shape: [1, 2], data: new Uint16Array([0x3f80, 0xc049]) },
  'd.i32': { dtype: 'I32', shape: [2], data: new Int32Array([-5, 49407]) },
  'e.i64': { dtype: 'I64', shape: [3], data: new BigInt64Array([0n, 76n, -1n]) },
  'f.u8': { dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 25, 250, 255]) },
  'g.empty': { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) },
  'h.scalar': { dtype: 'F32', shape: [], data: new Float32Array([999]) },
};

async function expectSmall(file: SafetensorsFile) {
  expect(file.metadata).toEqual({ format: 'pt', note: 'x' });
  expect([...file.keys()].sort()).toEqual(Object.keys(small).sort());
  for (const [k, t] of Object.entries(small)) {
    const got = await file.read(k);
    expect(got.dtype).toBe(t.dtype);
    expect(got.shape).toEqual(t.shape);
    expect(Array.from(got.data as ArrayLike<number>)).toEqual(Array.from(t.data as ArrayLike<number>));
  }
  expect(Array.from(await file.readF32('b.f16'))).toEqual([1, -2, 65504]);
  expect(Array.from(await file.readF32('c.bf16'))).toEqual([1, -3.140625]);
  expect(Array.from(await file.readF32('e.i64'))).toEqual([0, 76, -1]);
  expect(Array.from(await file.readF32('f.u8'))).toEqual([0, 1, 25, 250, 255]);
}

describe('f16 / bf16 bits', () => {
  it('converts known values, rounding to nearest even', () => {
    const x = new Float32Array([1, -2, 65504, 65519, 65520, 2 ** -24, 2 ** -25, 1.5 * 2 ** -25, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 0.1, -0, Infinity]);
    expect(Array.from(f32ToHalfBits(x))).toEqual([0x3c00, 0xc000, 0x7bff, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0001, 0x0400, 0x3c00, 0x3c02, 0x2e66, 0x8000, 0x7c00]);
    const nan = f32ToHalfBits(new Float32Array([NaN]))[0];
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
    expect(Array.from(halfBitsToF32(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x7c00, 0x3555])))).toEqual([
      1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, Infinity, Math.fround(0.333251953125),
    ]);
    expect(Array.from(bf16BitsToF32(new Uint16Array([0x3f80, 0xc049, 0x0000])))).toEqual([1, -3.140625, 0]);
  });

  it('round-trips every non-NaN half value', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToHalfBits(halfBitsToF32(all));
    let bad = 0;
    for (let h = 0; h < 65536; h++) if ((h & 0x7c00) !== 0x7c00 || (h & 0x3ff) === 0) bad += back[h] === h ? 0 : 1;
    expect(bad).toBe(0);
  });

  it('rounds the fp32 fixture weights to exactly the bits of the fp16 fixture files (PyTorch .half())', async () => {
    for (const stem of ['unet/diffusion_pytorch_model', 'vae/diffusion_pytorch_model', 'text_encoder/model']) {
      const f32 = SafetensorsFile.fromArrayBuffer(bytesOf(`${stem}.safetensors`), stem);
      const f16 = SafetensorsFile.fromArrayBuffer(bytesOf(`${stem}.fp16.safetensors`), stem);
      expect(f16.keys().sort()).toEqual(f32.keys().sort());
      let checked = 0;
      for (const k of f32.keys()) {
        if (f32.info(k).dtype !== 'F32') continue;
        const want = (await f16.read(k)).data as Uint16Array;
        expect(f16.info(k).dtype).toBe('F16');
        const got = f32ToHalfBits(await f32.readF32(k));
        expect(Buffer.from(got.buffer).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(true);
        checked++;
      }
      expect(checked).toBeGreaterThan(30);
    }
  });
});

describe('safetensors files', () => {
  it('rewrites the reference files byte for byte', async () => {
    for (const rel of ['unet/diffusion_pytorch_model.safetensors', 'text_encoder/model.fp16.safetensors', 'golden/pipeline.safetensors', 'golden/text.safetensors']) {
      const bytes = bytesOf(rel);
      const file = SafetensorsFile.fromArrayBuffer(bytes, rel);
      expect(file.byteLength).toBe(bytes.length);
      const all = Object.fromEntries(await file.readAll({ chunkBytes: 100_000 }));
      const out = writeSafetensors(all, file.metadata);
      expect(out.length).toBe(bytes.length);
      expect(Buffer.from(out).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('reads the golden tensors with the dtype, shape and statistics that cases.json lists', async () => {
    const files = new Map<string, SafetensorsFile>();
    let n = 0;
    for (const [name, c] of Object.entries(cases.tensors)) {
      if (!files.has(c.file)) files.set(c.file, SafetensorsFile.fromArrayBuffer(bytesOf(`golden/${c.file}`), c.file));
      const file = files.get(c.file)!;
      const t = await file.read(name);
      expect([name, t.dtype, t.shape]).toEqual([name, c.dtype, c.shape]);
      const v = await file.readF32(name);
      if (c.values) {
        expect(Array.from(v)).toEqual(c.values.map(Math.fround));
      } else {
        const s = c.stats!;
        let min = Infinity, max = -Infinity, sum = 0;
        for (const x of v) {
          min = Math.min(min, x);
          max = Math.max(max, x);
          sum += x;
        }
        expect(min).toBe(Math.fround(s.min));
        expect(max).toBe(Math.fround(s.max));
        expect(Math.abs(sum / v.length - s.mean)).toBeLessThanOrEqual(1e-5 * (Math.abs(s.mean) + s.std));
      }
      n++;
    }
    expect(n).toBe(242);
    const ids = (await files.get('text.safetensors')!.read('tokenizer.input_ids')).data;
    expect(ids).toBeInstanceOf(Int32Array);
    expect((await files.get('pipeline.safetensors')!.read('run1.output_u8')).data).toBeInstanceOf(Uint8Array);
  });

  it('round-trips every dtype, zero-size and scalar tensors from memory and from a Blob', async () => {
    const bytes = writeSafetensors(small, { note: 'x', format: 'pt' });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    await expectSmall(SafetensorsFile.fromArrayBuffer(bytes, 'small'));
    await expectSmall(SafetensorsFile.fromArrayBuffer(bytes.slice().buffer, 'small'));
    await expectSmall(await SafetensorsFile.fromBlob(new Blob([bytes]), 'small'));
  });

  it('rejects malformed files with a message naming the file and the problem', async () => {
    const good = writeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) } });
    const bad = (b: Uint8Array, re: RegExp) => expectError(() => SafetensorsFile.fromArrayBuffer(b, 'bad.safetensors'), re);
    bad(new Uint8Array(5), /file is 5 bytes, too small/);
    bad(new Uint8Array(0), /file is 0 bytes, too small/);
    const longer = good.slice();
    new DataView(longer.buffer).setBigUint64(0, BigInt(good.length), true);
    bad(longer, /header length \d+ runs past the end of the file/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 62n, true);
    bad(huge, /header length 4611686018427387904 exceeds the 100000000-byte limit/);
    bad(good.subarray(0, good.length - 4), /tensor "w" data_offsets \[0, 16\] lie outside the data section \(12 bytes; truncated\?\)/);
    const t = (dtype: string, shape: unknown, offs: unknown) => JSON.stringify({ dtype, shape, data_offsets: offs });
    bad(craft(`{"a":${t('F32', [2], [0, 8])},"b":${t('F32', [2], [4, 12])}}`, 12), /tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/);
    bad(craft(`{"x":${t('F64', [2], [0, 16])}}`, 16), /tensor "x" has unsupported dtype "F64"/);
    bad(craft(`{"m":${t('BOOL', [2], [0, 2])}}`, 2), /tensor "m" has unsupported dtype "BOOL"/);
    bad(craft(`{"w":${t('F32', [2, 2], [0, 12])}}`, 12), /tensor "w" has 12 bytes but F32 x \[2, 2\] needs 16/);
    bad(craft('{"w": {"dtype": "F32",', 0), /header is not valid JSON/);
    bad(craft('[1, 2]   ', 0), /header is not a JSON object \(found an array\)/);
    bad(craft('"text"  ', 0), /header is not a JSON object \(found string\)/);
    bad(craft(`{"w":${t('F32', [2], [0, 8])}}`, 4), /tensor "w" data_offsets \[0, 8\] lie outside the data section \(4 bytes/);
    bad(craft(`{"w":${t('F32', [1], [4, 8])}}`, 8), /bytes \[0, 4\) of the data section before tensor "w" belong to no tensor/);
    bad(craft(`{"w":${t('F32', [1], [0, 4])}}`, 8), /4 bytes after the last tensor belong to no tensor/);
    bad(craft(`{"w":${t('F32', [-1], [0, 0])}}`, 0), /tensor "w" has an invalid shape \[-1\]/);
    bad(craft(`{"w":${t('F32', [1.5], [0, 4])}}`, 4), /invalid shape \[1.5\]/);
    bad(craft(`{"w":${t('F32', [1], [4, 0])}}`, 4), /tensor "w" has invalid data_offsets \[4,0\]/);
    bad(craft(`{"w":${t('F32', [1], [0])}}`, 4), /invalid data_offsets \[0\]/);
    bad(craft('{"w": 3}', 0), /tensor "w": header entry is not an object/);
    bad(craft('{"__metadata__": {"format": 1}}', 0), /__metadata__ value "format" is not a string/);
    const latin1 = craft('{"x":1}  ', 0);
    latin1[10] = 0xff;
    bad(latin1, /header is not valid UTF-8/);
    // Empty and zero-size files are fine.
    expect(SafetensorsFile.fromArrayBuffer(craft('{}', 0), 'e').keys()).toEqual([]);
    expect(SafetensorsFile.fromArrayBuffer(craft(`{"z":${t('F16', [0], [0, 0])}}`, 0), 'e').info('z').shape).toEqual([0]);
    // The same checks through a Blob.
    await expect(SafetensorsFile.fromBlob(new Blob([good.subarray(0, 20)]), 'b')).rejects.toThrow(/^b: header length \d+ runs past/);
    await expect(SafetensorsFile.fromBlob(new Blob([new Uint8Array(3)]), 'b')).rejects.toThrow(/^b: file is 3 bytes, too small/);
    expectError(() => SafetensorsFile.fromArrayBuffer(good, 'g').info('nope'), /no tensor named "nope"/, 'g');
  });

  it('never fails other than with SafetensorsError on randomly corrupted files', async () => {
    const good = writeSafetensors(small, { format: 'pt' });
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    let rejected = 0;
    for (let i = 0; i < 400; i++) {
      const b = good.slice(0, i % 10 === 9 ? Math.floor(rand() * good.length) : good.length);
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * Math.min(b.length, 40 + (i % 5) * 100))] = Math.floor(rand() * 256);
      try {
        const f = SafetensorsFile.fromArrayBuffer(b, 'fuzz');
        for (const key of f.keys()) await f.readF32(key);
      } catch (e) {
        expect(e).toBeInstanceOf(SafetensorsError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(50);
  });
});

describe('safetensors over HTTP', () => {
  let server: TestServer;
  let plain: TestServer;
  const smallBytes = writeSafetensors(small, { note: 'x', format: 'pt' });
  beforeAll(async () => {
    server = await serveFolder(MODEL, { files: { '/small.safetensors': smallBytes } });
    plain = await serveFolder(MODEL, { ignoreRange: true, files: { '/small.safetensors': smallBytes } });
  });
  afterAll(async () => {
    await server.close();
    await plain.close();
  });

  it('reads one tensor with three small Range requests', async () => {
    const rel = 'unet/diffusion_pytorch_model.safetensors';
    const size = bytesOf(rel).length;
    server.requests.length = 0;
    const file = await SafetensorsFile.fromUrl(`${server.url}/${rel}`);
    expect(file.fileName).toBe('diffusion_pytorch_model.safetensors');
    expect(file.byteLength).toBe(size);
    const bias = await file.read('conv_in.bias');
    const local = await SafetensorsFile.fromArrayBuffer(bytesOf(rel), rel).read('conv_in.bias');
    expect(Array.from(bias.data as Float32Array)).toEqual(Array.from(local.data as Float32Array));
    expect(server.requests.map((r) => [r.status, r.range])).toEqual([
      [206, 'bytes=0-7'],
      [206, expect.stringMatching(/^bytes=8-\d+$/)],
      [206, expect.stringMatching(/^bytes=\d+-\d+$/)],
    ]);
    expect(server.bytesSent()).toBeLessThan(size / 50);
  });

  it('round-trips through Range requests and through a server that ignores Range', async () => {
    await expectSmall(await SafetensorsFile.fromUrl(`${server.url}/small.safetensors`, { fileName: 'small' }));
    plain.requests.length = 0;
    await expectSmall(await SafetensorsFile.fromUrl(`${plain.url}/small.safetensors`));
    expect(plain.requests.length).toBe(1);
    expect(plain.requests[0].status).toBe(200);
  });

  it('reports HTTP errors with the file name', async () => {
    await expect(SafetensorsFile.fromUrl(`${server.url}/missing.safetensors`)).rejects.toThrow(/^missing\.safetensors: HTTP 404/);
    await expect(SafetensorsFile.fromUrl('http://127.0.0.1:1/x.safetensors')).rejects.toThrow(/^x\.safetensors: fetching .* failed/);
  });
});
