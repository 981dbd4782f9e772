// Model downloads in the editor, in Chromium, from a local server that answers like the Hugging Face Hub
// (tests/helpers/fake_hub.ts serving models/tiny-ip2p without golden/ under the default repo id), reached
// cross-origin through a front that adds the Hub's CORS headers and paces the CDN at a few MB/s. In order, in one
// browser context: the default model says its size and waits for a click; the first load shows per-file and
// overall progress and resumes a UNet download cut midway by Range; a reload loads from Cache Storage with no
// request; a corrupted cached file is fetched again; a too-small storage quota says how much is needed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { join } from 'node:path';
import type { Page, Worker } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/ui/format.ts';
import { startFakeHub, type FakeHub, type HubRequest } from '../helpers/fake_hub.ts';
import { ROOT, artifactPath, startBrowserHarness, type BrowserHarness } from './harness.ts';

const MODEL = join(ROOT, 'models/tiny-ip2p');
const REPO = 'timbrooks/instruct-pix2pix'; // the editor's default model
const UNET = 'unet/diffusion_pytorch_model.fp16.safetensors';
const CDN_BYTES_PER_SECOND = 4e6;
const LOAD_TIMEOUT = 120_000;

/** The files an fp16 load of the repo takes, from the folder itself: everything but golden/ and fp32 weights. */
function servedFiles(): Map<string, number> {
  const out = new Map<string, number>();
  for (const rel of readdirSync(MODEL, { recursive: true, encoding: 'utf8' })) {
    const path = rel.split('\\').join('/');
    if (path.startsWith('golden/') || !statSync(join(MODEL, rel)).isFile()) continue;
    if (path.endsWith('.safetensors') && !path.endsWith('.fp16.safetensors')) continue;
    out.set(path, statSync(join(MODEL, rel)).size);
  }
  return out;
}

/** 8 + the JSON header length of a safetensors file: the bytes a header read may fetch. */
function headerEnd(path: string): number {
  const b = readFileSync(join(MODEL, path));
  return 8 + Number(b.readBigUInt64LE(0));
}

const EXPOSE = ['etag', 'content-range', 'accept-ranges', 'x-repo-commit', 'x-linked-size', 'x-linked-etag', 'x-error-code', 'x-error-message'];

/** A front for the fake Hub on another port (so another origin than the page): answers preflights, adds the CORS
 * headers the Hub and its CDN send, and paces CDN bodies. An upstream response cut short is cut short here too. */
async function startCorsFront(target: string, bytesPerSecond: number): Promise<{ url: string; close(): Promise<void> }> {
  const up = new URL(target);
  const server: Server = createServer((req, res) => {
    const cors = { 'access-control-allow-origin': '*' };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'GET, HEAD',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? '',
        'access-control-max-age': '600',
      });
      return void res.end();
    }
    const headers: IncomingHttpHeaders = { ...req.headers, host: up.host };
    const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers }, async (ur) => {
      const h = { ...ur.headers };
      delete h.connection;
      delete h['keep-alive'];
      res.writeHead(ur.statusCode ?? 502, { ...h, ...cors, 'access-control-expose-headers': EXPOSE.join(', ') });
      const paced = (req.url ?? '').startsWith('/cdn/');
      const t0 = performance.now();
      let sent = 0;
      try {
        for await (const chunk of ur as AsyncIterable<Buffer>) {
          for (let at = 0; at < chunk.length; at += 16384) {
            const piece = chunk.subarray(at, at + 16384);
            if (paced) {
              const wait = ((sent + piece.length) / bytesPerSecond) * 1000 - (performance.now() - t0);
              if (wait > 0) await new Promise((ok) => setTimeout(ok, wait));
            }
            await new Promise<void>((ok, fail) => res.write(piece, (e) => (e ? fail(e) : ok())));
            sent += piece.length;
          }
        }
      } catch {
        // the upstream connection broke: fall through and break this one too
      }
      if (ur.complete) res.end();
      else res.destroy();
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('CORS front has no port');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    close: () =>
      new Promise<void>((ok, fail) => {
        server.closeAllConnections();
        server.close((e) => (e ? fail(e) : ok()));
      }),
  };
}

/** Records every text the model's progress bar shows, on every page load of the context (window.__loadTexts). */
function recordLoadProgress(): void {
  const w = window as unknown as { __loadTexts: string[] };
  w.__loadTexts = [];
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target as Element;
      if (el.getAttribute?.('aria-label') === 'Model download') w.__loadTexts.push(el.getAttribute('aria-valuetext') ?? '');
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['aria-valuetext'] });
}

const loadTexts = (page: Page) => page.evaluate(() => (window as unknown as { __loadTexts: string[] }).__loadTexts);
const weightPaths = (files: Map<string, number>) => [...files.keys()].filter((p) => p.endsWith('.safetensors'));
const summary = (rs: HubRequest[]) => rs.map((r) => `${r.method} ${r.kind} ${r.file ?? r.url} ${r.range ?? ''} -> ${r.status} ${r.bytes}B`);

describe('Hub downloads in the editor', () => {
  let h: BrowserHarness;
  let hub: FakeHub;
  let front: { url: string; close(): Promise<void> };
  let page: Page;
  const files = servedFiles();
  const total = [...files.values()].reduce((a, b) => a + b, 0);
  const weights = weightPaths(files);
  const weightBytes = weights.reduce((a, p) => a + files.get(p)!, 0);
  const pageErrors: string[] = [];
  let pagePath = '/';

  beforeAll(async () => {
    hub = await startFakeHub({ folder: MODEL, repo: REPO }); // golden/ is left out by default
    front = await startCorsFront(hub.url, CDN_BYTES_PER_SECOND);
    h = await startBrowserHarness();
    pagePath = `/?hub=${encodeURIComponent(front.url)}`;
  });
  afterAll(async () => {
    await h?.close();
    await front?.close();
    await hub?.close();
  });

  const plan = () => page.getByTestId('model-plan');
  const waitLoaded = () => plan().filter({ hasText: /^Loaded:/ }).waitFor({ timeout: LOAD_TIMEOUT });

  it('the default model says its size before downloading, and downloads nothing before the click', async () => {
    expect(() => hub.file('golden/cases.json')).toThrow(); // the server has no goldens to give
    page = await h.newPage(pagePath);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.context().addInitScript(recordLoadProgress);
    await page.evaluate(recordLoadProgress);
    const model = page.getByLabel('Model', { exact: true });
    expect(await model.inputValue()).toBe('default');
    expect(await model.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0].text)).toMatch(/InstructPix2Pix.*2\.1 GB/);
    // the base URL setting took the link's ?hub=
    await page.getByText('Hub settings').click();
    expect(await page.getByLabel('Hub base URL', { exact: true }).inputValue()).toBe(front.url);
    // the plan's exact size: what the server serves for an fp16 load
    await plan().waitFor();
    const text = await plan().innerText();
    console.log(`[hub] plan line: ${text} (served total ${total} B, weights ${weightBytes} B)`);
    expect(text).toMatch(new RegExp(`^${formatBytes(total).replace('.', '\\.')} to download, once`));
    // no load starts without the click
    await page.waitForTimeout(1500);
    await expect(page.getByRole('progressbar', { name: 'Model download' }).count()).resolves.toBe(0);
    await expect(page.getByRole('button', { name: 'Load model', exact: true }).isEnabled()).resolves.toBe(true);
    for (const w of weights) {
      const got = hub.transfers(w);
      const end = headerEnd(w);
      // header reads only: ranged, inside the header
      for (const r of got) {
        const m = /^bytes=(\d+)-(\d+)$/.exec(r.range ?? '');
        expect(m, `${w}: ${summary([r])}`).not.toBeNull();
        expect(Number(m![2])).toBeLessThan(end);
      }
      expect(got.reduce((a, r) => a + r.bytes, 0)).toBeLessThanOrEqual(end);
    }
    const headerBytes = weights.reduce((a, w) => a + hub.transfers(w).reduce((b, r) => b + r.bytes, 0), 0);
    console.log(`[hub] before the click: ${hub.requests.length} requests, ${hub.requests.reduce((a, r) => a + r.bytes, 0)} B (weight headers ${headerBytes} B)`);
  });

  it('the first load shows per-file and overall progress, and a UNet download cut midway resumes by Range', async () => {
    const size = files.get(UNET)!;
    const cutAt = Math.floor(size / 2);
    let cutDone = false;
    const before = hub.requests.length;
    hub.cutNext(UNET, cutAt, () => (cutDone = true));
    await page.getByRole('button', { name: 'Load model', exact: true }).click();
    await page.getByRole('progressbar', { name: 'Model download' }).waitFor();
    await waitLoaded();
    expect(cutDone).toBe(true);
    const reqs = hub.requests.slice(before);
    console.log(`[hub] first load: ${reqs.length} requests\n${summary(reqs).join('\n')}`);

    // The server's side: the cut response, then one resume that asks for the rest with Range: bytes=N-.
    const unet = reqs.filter((r) => r.kind === 'cdn' && r.file === UNET && r.method === 'GET');
    const cut = unet.findIndex((r) => r.range === null);
    expect(cut, summary(unet).join('\n')).toBeGreaterThanOrEqual(0);
    expect(unet[cut]).toMatchObject({ status: 200, bytes: cutAt });
    const resume = unet.slice(cut + 1);
    expect(resume, summary(resume).join('\n')).toHaveLength(1);
    const from = Number(/^bytes=(\d+)-$/.exec(resume[0].range ?? '')?.[1] ?? NaN);
    // N is what the page held: the bytes that arrived before the cut (Chromium drops the last few kB it had
    // buffered when the connection fails: 0 to 20 kB here)
    expect(from).toBeGreaterThan(cutAt - 262144);
    expect(from).toBeLessThanOrEqual(cutAt);
    expect(resume[0]).toMatchObject({ status: 206, bytes: size - from });
    const served = hub.transfers(UNET).reduce((a, r) => a + r.bytes, 0); // header reads of the plans included
    console.log(`[hub] UNet: ${size} B, cut after ${cutAt} B, resumed from ${from} B; ${served} B served in ${hub.transfers(UNET).length} GETs (${(served / size).toFixed(3)}x)`);
    expect(served).toBeLessThan(1.5 * size);
    // every other weight file came whole, once; the configs not at all (the plan had cached them)
    for (const [path, bytes] of files) {
      if (path === UNET) continue;
      const gets = reqs.filter((r) => r.file === path && r.method === 'GET' && r.status !== 302 && r.range === null);
      expect(gets.map((r) => r.bytes), path).toEqual(path.endsWith('.safetensors') ? [bytes] : []);
    }
    // The page resumed on its own: no error, no Retry needed.
    await expect(page.getByRole('alert').count()).resolves.toBe(0);

    // The page's side: per-file and overall bytes, speed and time left, moving forward; the UNet's share never
    // went back to 0 after the cut.
    const texts = await loadTexts(page);
    console.log(`[hub] ${texts.length} progress texts, e.g.\n${texts.filter((t) => / left$/.test(t)).slice(0, 3).join('\n')}`);
    const downloading = texts.filter((t) => t.startsWith('Downloading'));
    expect(downloading.length).toBeGreaterThan(5);
    const overall = downloading.map((t) => Number(/^Downloading (\d+)%/.exec(t)![1]));
    expect(overall).toEqual([...overall].sort((a, b) => a - b));
    expect(new Set(overall).size).toBeGreaterThan(4);
    expect(overall.at(-1)).toBe(100);
    for (const t of downloading) expect(t).toContain(` of ${formatBytes(total)}`);
    const perFile = downloading.filter((t) => t.includes(UNET)).map((t) => Number(/\((\d+)%\)/.exec(t)![1]));
    expect(perFile.some((v) => v > 0 && v < 100)).toBe(true);
    expect(perFile.slice(perFile.findIndex((v) => v > 0))).not.toContain(0);
    expect(perFile).toEqual([...perFile].sort((a, b) => a - b));
    expect(downloading.some((t) => /\d B\/s|[kMG]B\/s/.test(t) && / left$/.test(t))).toBe(true);
    expect(texts.at(-1)).toMatch(/^Ready/);
    await page.screenshot({ path: artifactPath('hub-download-loaded.png') });
  });

  it('a reload loads from the cache, with no request to the server', async () => {
    const before = hub.requests.length;
    await page.reload();
    await waitLoaded();
    const reqs = hub.requests.slice(before);
    console.log(`[hub] reload: ${reqs.length} requests ${summary(reqs).join('; ')}`);
    expect(summary(reqs)).toEqual([]);
    const texts = await loadTexts(page);
    expect(texts.filter((t) => t.startsWith('Downloading'))).toEqual([]);
    expect(texts.some((t) => t.startsWith('Reading weights'))).toBe(true);
    expect(texts.at(-1)).toMatch(/^Ready/);
  });

  it('a corrupted cached file is detected and fetched again', async () => {
    const size = files.get(UNET)!;
    // Flip bytes in the middle of the UNet's tensor data in Cache Storage (engine/weights/cache.ts: the parts of an
    // entry at its key URL + retouch-part=i, with their size in x-retouch-bytes), keeping every size as it was.
    const changed = await page.evaluate(async (path) => {
      const c = await caches.open('retouch-models-v1');
      const parts = (await c.keys()).map((r) => r.url).filter((u) => u.includes(`/${path}?`) && /[?&]retouch-part=\d+$/.test(u));
      const last = parts.sort().at(-1)!;
      const res = (await c.match(last))!;
      const bytes = new Uint8Array(await res.arrayBuffer());
      const at = bytes.length >> 1;
      for (let i = at; i < at + 64; i++) bytes[i] ^= 0xff;
      await c.put(last, new Response(bytes, { headers: res.headers }));
      return { parts: parts.length, part: last.slice(last.lastIndexOf('retouch-part')), bytes: bytes.length };
    }, UNET);
    console.log(`[hub] corrupted 64 bytes of ${UNET} in its ${changed.part} (${changed.bytes} B; ${changed.parts} parts)`);
    const before = hub.requests.length;
    await page.reload();
    await waitLoaded();
    const reqs = hub.requests.slice(before);
    console.log(`[hub] after corruption: ${reqs.length} requests\n${summary(reqs).join('\n')}`);
    // exactly one new transfer, of that file, whole; nothing else asked for
    expect(hub.transfers(UNET).filter((r) => hub.requests.indexOf(r) >= before).map((r) => [r.status, r.range, r.bytes])).toEqual([[200, null, size]]);
    expect(new Set(reqs.map((r) => r.file))).toEqual(new Set([UNET]));
    const note = page.locator('[data-code=refetched]');
    await note.waitFor();
    const said = await note.innerText();
    console.log(`[hub] the page says: ${said.replace(/\s+/g, ' ')}`);
    expect(said).toMatch(/damaged/);
    expect(said).toContain(UNET);
    expect(said).toMatch(/sha256/);
    await expect(page.getByRole('alert').count()).resolves.toBe(0);
  });

  it('too little storage: the message says how much the model needs', async () => {
    const quota = await h.newPage(pagePath); // a fresh context: nothing cached
    try {
      quota.on('pageerror', (e) => pageErrors.push(e.message));
      let worker: Worker | undefined;
      await expect.poll(() => (worker = quota.workers().find((w) => w.url().includes('engine.worker'))) !== undefined).toBe(true);
      await quota.getByTestId('model-plan').filter({ hasText: formatBytes(total) }).waitFor();
      // Cache Storage's room as the engine worker (and the page) see it: 1 MB free.
      const fake = () => {
        const est = async () => ({ quota: 3_000_000, usage: 2_000_000 });
        Object.defineProperty(navigator.storage, 'estimate', { value: est, configurable: true });
      };
      await worker!.evaluate(fake);
      await quota.evaluate(fake);
      const before = hub.requests.length;
      await quota.getByRole('button', { name: 'Load model', exact: true }).click();
      const alert = quota.getByRole('alert').filter({ hasText: 'Not enough storage space' });
      await alert.waitFor();
      expect(await alert.getAttribute('data-code')).toBe('quota');
      const text = (await alert.innerText()).replace(/\s+/g, ' ');
      console.log(`[hub] quota message: ${text}`);
      // what is left to download: the weights (the plan fetched the configs)
      expect(text).toContain(`needs ${formatBytes(weightBytes)} more`);
      await alert.getByText('Details').click();
      const detail = await alert.locator('pre').innerText();
      expect(detail).toMatch(/needs 5\.57 MB, 1\.00 MB free/);
      expect(weightBytes / 1e6).toBeCloseTo(5.57, 2);
      // nothing was downloaded for it
      expect(hub.requests.slice(before).filter((r) => r.method === 'GET' && r.kind === 'cdn' && r.range === null)).toEqual([]);
      await quota.screenshot({ path: artifactPath('hub-download-quota.png') });
    } finally {
      await quota.close();
    }
    expect(pageErrors).toEqual([]);
    expect(hub.requests.filter((r) => r.url.includes('/golden/'))).toEqual([]);
  });
});
