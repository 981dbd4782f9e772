// `retouch edit` as a user runs it (a separate node process through tsx, default backend WebGPU) on the tiny model:
// the PNG and its metadata, determinism by seed, all four schedulers, the size rule on a JPEG, --force, one-line
// errors for bad inputs; and, in process, the image decoding rules and the progress lines.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/cli/image_io.ts';
import { Progress } from '../../src/cli/progress.ts';

const root = join(import.meta.dirname, '../..');
const tmp = mkdtempSync(join(tmpdir(), 'retouch-edit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const MAIN = ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'edit'];
const env = { ...process.env, RETOUCH_DEBUG: '' };

function edit(args: string[]) {
  const r = spawnSync(process.execPath, [...MAIN, ...args], { cwd: root, encoding: 'utf8', timeout: 240_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function editAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const p = spawn(process.execPath, [...MAIN, ...args], { cwd: root, env });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => done({ code, stdout, stderr }));
  });
}

// A 64x64 RGBA test photo written by pngjs (not by our encoder): smooth ramps, alpha varying (it must be ignored).
const photo = join(tmp, 'photo.png');
{
  const png = new PNG({ width: 64, height: 64 });
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) png.data.set([x * 4, y * 4, 255 - x * 2, 128 + y], (y * 64 + x) * 4);
  }
  writeFileSync(photo, PNG.sync.write(png));
}

/** tEXt chunks of a PNG, read here independently of src/engine/image/png.ts. */
function pngText(bytes: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (let o = 8; o + 8 <= bytes.length; ) {
    const len = bytes.readUInt32BE(o);
    const type = bytes.toString('latin1', o + 4, o + 8);
    if (type === 'tEXt') {
      const data = bytes.subarray(o + 8, o + 8 + len);
      const z = data.indexOf(0);
      out[data.toString('latin1', 0, z)] = data.toString('latin1', z + 1);
    }
    o += 12 + len;
  }
  return out;
}

const base = (out: string) => ['--model', 'models/tiny-ip2p', '--image', photo, '--prompt', 'make the sky a sunset', '--out', out];

describe('retouch edit on the tiny model', () => {
  it('writes the PNG with its parameters; the same seed twice is byte-identical, another seed differs', () => {
    const [a, b, c] = ['a.png', 'b.png', 'c.png'].map((f) => join(tmp, f));
    const opts = ['--steps', '2', '--negative-prompt', 'blurry'];
    const ra = edit([...base(a), ...opts, '--seed', '3']);
    expect(ra.stderr).toMatch(/editing 64x64 2\/2/);
    expect(ra.code, ra.stderr).toBe(0);
    expect(ra.stdout).toBe(`wrote ${a} (64x64)\n`);
    const bytes = readFileSync(a);
    const img = PNG.sync.read(bytes);
    expect([img.width, img.height]).toEqual([64, 64]);
    expect(pngText(bytes)).toEqual({
      prompt: 'make the sky a sunset',
      negative_prompt: 'blurry',
      seed: '3',
      steps: '2',
      text_guidance: '7.5',
      image_guidance: '1.5',
      scheduler: 'euler-ancestral',
      model: 'models/tiny-ip2p',
      Software: 'Retouch',
    });
    expect(edit([...base(b), ...opts, '--seed', '3']).code).toBe(0);
    expect(readFileSync(b).equals(bytes), 'same seed, same bytes').toBe(true);
    expect(edit([...base(c), ...opts, '--seed', '4']).code).toBe(0);
    expect(PNG.sync.read(readFileSync(c)).data.equals(img.data), 'another seed, another image').toBe(false);
  });

  it('euler, ddim and dpm++2m run end to end (euler-ancestral is the default above)', () => {
    for (const scheduler of ['euler', 'ddim', 'dpm++2m']) {
      const out = join(tmp, `${scheduler}.png`);
      const r = edit([...base(out), '--steps', '2', '--scheduler', scheduler, '--text-guidance', '3', '--image-guidance', '1']);
      expect(r.code, `${scheduler}: ${r.stderr}`).toBe(0);
      const bytes = readFileSync(out);
      const img = PNG.sync.read(bytes);
      expect([img.width, img.height]).toEqual([64, 64]);
      expect(pngText(bytes)).toMatchObject({ scheduler, text_guidance: '3', image_guidance: '1', steps: '2' });
    }
  });

  it('a JPEG (whatever its name) over --max-size is scaled down by the size rule, and says so', () => {
    // 80x72, longest side 80 > 64: x0.8 -> 64 x 57.6 -> 64 x 58 -> multiples of 8: 64 x 56
    const data = new Uint8Array(80 * 72 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256));
    const file = join(tmp, 'photo.dat');
    writeFileSync(file, jpeg.encode({ width: 80, height: 72, data }, 90).data);
    const out = join(tmp, 'scaled.png');
    const r = edit(['--model', 'models/tiny-ip2p', '--image', file, '--prompt', 'a', '--out', out, '--steps', '1', '--max-size', '64']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wrote ${out} \\(64x56\\) \\(the 80x72 input was scaled down by the size rule`));
    const img = PNG.sync.read(readFileSync(out));
    expect([img.width, img.height]).toEqual([64, 56]);
  });

  it('an existing --out is kept without --force (before any heavy work) and replaced with it', () => {
    const out = join(tmp, 'exists.png');
    writeFileSync(out, 'keep me');
    const t = performance.now();
    const refused = edit([...base(out), '--steps', '1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`retouch: ${out} already exists (pass --force to overwrite it)\n`);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    expect(performance.now() - t, 'refused before loading anything').toBeLessThan(20_000);
    const forced = edit([...base(out), '--steps', '1', '--force', '--backend', 'cpu']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/^backend cpu/m);
    const img = PNG.sync.read(readFileSync(out));
    expect([img.width, img.height]).toEqual([64, 64]);
  });

  it('bad arguments and files: one clear line, non-zero exit, nothing written', async () => {
    const notImage = join(tmp, 'notes.png');
    writeFileSync(notImage, 'hello, not an image\n');
    const truncated = join(tmp, 'truncated.png');
    writeFileSync(truncated, readFileSync(photo).subarray(0, 120));
    const out = join(tmp, 'never.png');
    const ok = base(out);
    const withImage = (img: string) => ok.map((v) => (v === photo ? img : v));
    const cases: [string[], number, RegExp][] = [
      [withImage(join(tmp, 'missing.png')), 1, /image not found: .*missing\.png/],
      [withImage(tmp), 1, /is a folder, not an image/],
      [withImage(notImage), 1, /notes\.png: not a PNG or JPEG image/],
      [withImage(truncated), 1, /truncated\.png: corrupt PNG/],
      [ok.map((v) => (v === 'models/tiny-ip2p' ? 'models' : v)), 1, /not a diffusers pipeline folder: models has no model_index\.json/],
      [[...ok, '--scheduler', 'lms'], 2, /unknown scheduler "lms"/],
      [[...ok, '--steps', '0'], 2, /--steps must be a whole number from 1/],
      [[...ok, '--image-guidance', '-0.5'], 2, /--image-guidance must be 0 or more/],
      [ok.filter((v, i) => v !== '--prompt' && ok[i - 1] !== '--prompt'), 2, /missing --prompt/],
      [[...ok, '--noise', 'models/tiny-ip2p/golden/pipeline.safetensors'], 1, /no latents_noise tensor; it has "run1\."/],
    ];
    const results = await Promise.all(cases.map(([args]) => editAsync(args)));
    results.forEach((r, k) => {
      const [args, code, pattern] = cases[k];
      const what = args.join(' ');
      expect(r.code, what).toBe(code);
      expect(r.stdout, what).toBe('');
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(/^retouch: /);
      expect(lines[0], what).toMatch(pattern);
    });
    expect(existsSync(out)).toBe(false);
  });

  it('--help documents every option', () => {
    const r = edit(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['model', 'image', 'prompt', 'negative-prompt', 'steps', 'text-guidance', 'image-guidance', 'seed',
      'scheduler', 'max-size', 'variant', 'out', 'noise', 'noise-prefix', 'dump', 'force', 'backend']) {
      expect(r.stdout).toContain(`--${flag}`);
    }
  });
});

// A PNG built byte by byte here (so colour types pngjs cannot write are covered): IHDR, extra chunks, one IDAT.
function pngBytes(w: number, h: number, depth: number, colorType: number, rows: number[][], extra: [string, number[]][] = []): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])));
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([depth, colorType, 0, 0, 0], 8);
  const raw = Buffer.from(rows.flatMap((r) => [0, ...r]));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...extra.map(([t, d]) => chunk(t, Buffer.from(d))),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('edit image input', () => {
  const rgb = (bytes: Uint8Array) => Array.from(decodeImage(bytes, 'test').image.data);

  it('palette PNG -> its colours, palette alpha ignored', () => {
    const plte = [255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 250];
    const png = pngBytes(2, 2, 8, 3, [[0, 1], [2, 3]], [['PLTE', plte], ['tRNS', [255, 0, 10, 128]]]);
    expect(rgb(png)).toEqual(plte);
  });

  it('16-bit RGB PNG -> 8 bits, rounded', () => {
    const v = [0xffff, 0x1234, 0x0000, 0x8080, 0x00ff, 0x7fff];
    const png = pngBytes(2, 1, 16, 2, [v.flatMap((s) => [s >> 8, s & 255])]);
    expect(rgb(png)).toEqual(v.map((s) => Math.round((s * 255) / 65535)));
  });

  it('grey + alpha PNG -> grey on all three channels, alpha dropped (not premultiplied)', () => {
    expect(rgb(pngBytes(2, 1, 8, 4, [[100, 0, 200, 255]]))).toEqual([100, 100, 100, 200, 200, 200]);
  });

  it('2-bit grey PNG -> 0, 85, 170, 255', () => {
    expect(rgb(pngBytes(4, 1, 2, 0, [[0b00011011]]))).toEqual([0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255]);
  });

  it('RGB PNG with a tRNS key colour keeps that colour', () => {
    const png = pngBytes(2, 1, 8, 2, [[10, 20, 30, 40, 50, 60]], [['tRNS', [0, 10, 0, 20, 0, 30]]]);
    expect(rgb(png)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it('JPEG with EXIF Orientation 6 is turned upright (90 degrees clockwise)', () => {
    // stored 16x8: left half red, right half blue; upright it is 8x16 with red on top
    const data = new Uint8Array(16 * 8 * 4);
    for (let i = 0; i < 16 * 8; i++) data.set((i % 16) < 8 ? [255, 0, 0, 255] : [0, 0, 255, 255], i * 4);
    const stored = jpeg.encode({ width: 16, height: 8, data }, 95).data;
    const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0];
    const payload = [...Buffer.from('Exif\0\0', 'latin1'), ...tiff];
    const app1 = [0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload];
    const file = Buffer.concat([stored.subarray(0, 2), Buffer.from(app1), stored.subarray(2)]);
    const { image } = decodeImage(file, 'exif.jpg');
    expect([image.width, image.height]).toEqual([8, 16]);
    const px = (x: number, y: number) => Array.from(image.data.subarray((y * 8 + x) * 3, (y * 8 + x) * 3 + 3));
    const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]) <= 24);
    expect(near(px(4, 2), [255, 0, 0]), `top ${px(4, 2)}`).toBe(true);
    expect(near(px(4, 13), [0, 0, 255]), `bottom ${px(4, 13)}`).toBe(true);
  });

  it('other formats are named, not guessed', () => {
    expect(() => decodeImage(Buffer.from('GIF89a\x01\x00\x01\x00'), 'x.png')).toThrow(/x\.png: GIF images are not supported/);
    expect(() => decodeImage(Buffer.from('RIFF\0\0\0\0WEBPVP8 '), 'x.jpg')).toThrow(/WebP images are not supported/);
  });
});

describe('edit progress lines (stderr not a TTY)', () => {
  it('one line per step with elapsed and an ETA from the steps after the first', () => {
    let text = '';
    const stream = { isTTY: false, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
    let t = 0;
    const p = new Progress({ stream, now: () => t });
    p.begin('editing 64x64');
    t = 1000; // step 1 took 1 s (it includes shader compilation)
    p.update(1, 4);
    t = 1500; // step 2 took 0.5 s: the remaining 2 steps should take 1 s
    p.update(2, 4);
    t = 2500;
    p.update(4, 4);
    expect(text).toBe('editing 64x64 1/4  1.0s  eta 3.0s\nediting 64x64 2/4  1.5s  eta 1.0s\nediting 64x64 4/4  2.5s\n');
  });
});
