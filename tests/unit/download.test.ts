// Hub downloads against a local server that answers like the Hub (tests/helpers/fake_hub.ts) serving the tiny
// fixture: plan, first load with progress, resume after a cut or a cancel, cache hits with no request, damaged
// cache entries, changed files, retries, clear errors, quota, and the Cache Storage layer over an in-test stand-in.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrowserCache, MemoryCache, QuotaError, type ModelCache } from '../../src/engine/weights/cache.ts';
import { loadPipelineFolder, nodeFolderSource, type HostWeightSource } from '../../src/engine/weights/diffusers.ts';
import { RateMeter, downloadFile } from '../../src/engine/weights/download.ts';
import {
  HubError,
  hubSource,
  parseRepoId,
  planDownload,
  removeCachedRepo,
  type HubOptions,
  type HubProgress,
} from '../../src/engine/weights/hub.ts';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.ts';
import { KNOWN_EXTRAS } from '../../src/engine/weights/var_builder.ts';
import { startFakeHub, type FakeHub } from '../helpers/fake_hub.ts';

const MODEL = fileURLToPath(new URL('../../models/tiny-ip2p/', import.meta.url));
const reload: Record<string, { tensors: number; params: number }> = JSON.parse(readFileSync(MODEL + 'golden/cases.json', 'utf8')).reload_check;
const REPO = 'timbrooks/instruct-pix2pix';
const UNET = 'unet/diffusion_pytorch_model.fp16.safetensors';
const VAE = 'vae/diffusion_pytorch_model.fp16.safetensors';
const TE = 'text_encoder/model.fp16.safetensors';
/** What a pipeline download holds, in plan order (written out here, not taken from hub.ts). */
const PLANNED = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'unet/config.json',
  'vae/config.json',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  UNET,
  VAE,
  TE,
];
const size = (p: string) => statSync(MODEL + p).size;
const shaOf = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const diskSha = (p: string) => shaOf(readFileSync(MODEL + p));
const TOTAL = PLANNED.reduce((a, p) => a + size(p), 0);

let hub: FakeHub;
beforeEach(async () => {
  hub = await startFakeHub({ folder: MODEL, repo: REPO });
});
afterEach(() => hub.close());

const opts = (extra: HubOptions = {}): HubOptions => ({ baseUrl: hub.url, backoffMs: 1, partBytes: 256 << 10, progressIntervalMs: 0, ...extra });

function modelParams(w: HostWeightSource) {
  const keys = w.keys().filter((k) => !KNOWN_EXTRAS.some((re) => re.test(k)));
  return { tensors: keys.length, params: keys.reduce((a, k) => a + w.shape(k)!.reduce((x, y) => x * y, 1), 0) };
}

/** Every tensor of `file` byte-equal to those of `expected` (bytes of a safetensors file). */
async function expectSameTensors(file: SafetensorsFile, expected: Uint8Array) {
  const want = await SafetensorsFile.fromArrayBuffer(expected, 'expected').readAll();
  const got = await file.readAll();
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  const bytes = (d: ArrayBufferView) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  for (const [k, t] of want) if (!bytes(got.get(k)!.data).equals(bytes(t.data))) throw new Error(`tensor ${k} differs`);
}

let localLoad: Promise<Awaited<ReturnType<typeof loadPipelineFolder>>> | null = null;
/** The same component read from the folder on disk: every tensor byte-equal. */
async function expectSameAsDisk(w: HostWeightSource, c: 'unet' | 'vae' | 'text_encoder') {
  const local = (await (localLoad ??= loadPipelineFolder(nodeFolderSource(MODEL)))).weights[c];
  expect(w.keys().sort()).toEqual(local.keys().sort());
  const bytes = (d: ArrayBufferView) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  for (const k of local.keys()) if (!bytes(w.tensor(k).data).equals(bytes(local.tensor(k).data))) throw new Error(`${c} ${k} differs`);
}

async function entryOf(cache: ModelCache, path: string) {
  const all = (await cache.list()).filter((e) => e.key.includes(`/resolve/main/${path}?etag=`));
  expect(all.length).toBe(1);
  return all[0];
}

describe('planDownload', () => {
  it('lists files, sizes and sha256 from HEAD requests alone', async () => {
    const plan = await planDownload(REPO, opts({ cache: new MemoryCache() }));
    expect(plan.files.map((f) => f.path)).toEqual(PLANNED);
    for (const f of plan.files) expect([f.path, f.bytes, f.cachedBytes]).toEqual([f.path, size(f.path), 0]);
    expect(plan.files.filter((f) => f.sha256).map((f) => [f.path, f.sha256])).toEqual([UNET, VAE, TE].map((p) => [p, diskSha(p)]));
    expect([plan.totalBytes, plan.downloadBytes, plan.cachedBytes]).toEqual([TOTAL, TOTAL, 0]);
    expect(plan.commit).toBe(hub.commit);
    expect(new Set(hub.requests.map((r) => r.method))).toEqual(new Set(['HEAD']));

    const p32 = await planDownload(REPO, opts({ cache: new MemoryCache(), variant: 'fp32' }));
    const fp32 = ['unet/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.safetensors', 'text_encoder/model.safetensors'];
    expect(p32.files.slice(-3).map((f) => [f.path, f.bytes])).toEqual(fp32.map((p) => [p, size(p)]));
  });

  it('takes the sha256 from the tree API when the CDN ETag is not one, and plans without one where there is no API', async () => {
    hub.options.hideSha = true;
    const plan = await planDownload(REPO, opts({ cache: new MemoryCache() }));
    expect(plan.files.filter((f) => f.sha256).map((f) => [f.path, f.sha256])).toEqual([UNET, VAE, TE].map((p) => [p, diskSha(p)]));
    const api = hub.requests.filter((r) => r.kind === 'api').map((r) => r.url);
    expect(api.sort()).toEqual(['text_encoder', 'unet', 'vae'].map((d) => `/api/models/${REPO}/tree/main/${d}`));
    hub.options.noApi = true;
    const bare = await planDownload(REPO, opts({ cache: new MemoryCache() }));
    expect(bare.files.filter((f) => f.sha256)).toEqual([]);
    // Size checks only, and the load still works.
    const p = await loadPipelineFolder(hubSource(REPO, opts({ cache: new MemoryCache() })));
    expect(modelParams(p.weights.unet)).toEqual(reload.unet);
  });
});

describe('hubSource', () => {
  it('loads the pipeline with progress per file and overall, then again from the cache with no request', async () => {
    const cache = new MemoryCache();
    const events: HubProgress[] = [];
    const p = await loadPipelineFolder(hubSource(REPO, opts({ cache, onProgress: (e) => events.push(e) })));
    expect(p.files.map((f) => f.path)).toEqual([UNET, VAE, TE]);
    for (const c of ['unet', 'vae', 'text_encoder'] as const) expect(modelParams(p.weights[c])).toEqual(reload[c]);
    for (const c of ['unet', 'vae', 'text_encoder'] as const) await expectSameAsDisk(p.weights[c], c);
    expect(p.tokenizer.merges.length).toBe(48894);

    for (const path of PLANNED) {
      const done = events.filter((e) => e.path === path && e.phase === 'done');
      expect([path, done.length, done[0]?.fileLoadedBytes, done[0]?.fileTotalBytes]).toEqual([path, 1, size(path), size(path)]);
      expect(hub.transfers(path).map((r) => [r.status, r.bytes])).toEqual([[200, size(path)]]);
    }
    expect(events.filter((e) => e.phase === 'verify').map((e) => e.path)).toEqual([UNET, VAE, TE]);
    expect(events.filter((e) => e.path === UNET && e.phase === 'download').length).toBeGreaterThan(3);
    expect(events.every((e) => e.totalBytes === TOTAL && e.fileCount === PLANNED.length)).toBe(true);
    for (let i = 1; i < events.length; i++) expect(events[i].loadedBytes).toBeGreaterThanOrEqual(events[i - 1].loadedBytes);
    const last = events[events.length - 1];
    expect([last.loadedBytes, last.filesDone, last.etaSeconds]).toEqual([TOTAL, PLANNED.length, 0]);

    const before = hub.requests.length;
    const again: HubProgress[] = [];
    const p2 = await loadPipelineFolder(hubSource(REPO, opts({ cache, onProgress: (e) => again.push(e) })));
    expect(hub.requests.length - before).toBe(0);
    expect(again.map((e) => e.phase)).toEqual(PLANNED.map(() => 'cached'));
    expect(again.map((e) => e.path).sort()).toEqual([...PLANNED].sort());
    expect(modelParams(p2.weights.unet)).toEqual(reload.unet);
  });

  it('resumes a cut download with a Range request and sends the file about once', async () => {
    const cutAt = 600_000;
    hub.cutNext(UNET, cutAt);
    const p = await loadPipelineFolder(hubSource(REPO, opts({ cache: new MemoryCache() })));
    const t = hub.transfers(UNET);
    expect(t.map((r) => [r.kind, r.status, r.range])).toEqual([
      ['cdn', 200, null],
      ['cdn', 206, `bytes=${cutAt}-`],
    ]);
    const resolves = hub.requests.filter((r) => r.kind === 'resolve' && r.file === UNET && r.method === 'GET');
    expect(resolves.map((r) => [r.status, r.range])).toEqual([
      [302, null],
      [302, `bytes=${cutAt}-`],
    ]);
    const sent = t.reduce((a, r) => a + r.bytes, 0);
    expect(sent).toBe(size(UNET));
    expect(sent).toBeLessThan(1.5 * size(UNET));
    await expectSameAsDisk(p.weights.unet, 'unet');
  });

  it('starts over when the server answers a resume with 200 (Range ignored)', async () => {
    hub.options.ignoreRange = true;
    hub.cutNext(UNET, 500_000);
    const src = hubSource(REPO, opts({ cache: new MemoryCache() }));
    const f = await src.openSafetensors(UNET);
    expect(hub.transfers(UNET).map((r) => [r.status, r.range, r.bytes])).toEqual([
      [200, null, 500_000],
      [200, 'bytes=500000-', size(UNET)],
    ]);
    await expectSameTensors(f, readFileSync(MODEL + UNET));
  });

  it.each([false, true])('never splices a file that changed on the server between two requests (If-Range: %s)', async (ifRange) => {
    const cache = new MemoryCache();
    const old = hub.file(VAE);
    const changed = old.slice();
    changed[changed.length - 1] ^= 0xff; // last byte of the data section: still a valid file
    hub.cutNext(VAE, 300_000, () => hub.setFile(VAE, changed));
    const src = hubSource(REPO, opts({ cache, ifRange }));
    const f = await src.openSafetensors(VAE);
    await expectSameTensors(f, changed);
    const cdn = hub.requests.filter((r) => r.kind === 'cdn' && r.method === 'GET');
    expect(cdn.map((r) => [r.status, r.range, r.ifRange])).toEqual([
      [200, null, null],
      // the resume: If-Range makes the server send the new file whole; without it, the new ETag gives it away
      ifRange ? [200, 'bytes=300000-', `"${shaOf(old)}"`] : [206, 'bytes=300000-', null],
      [200, null, null],
    ]);
    const e = await entryOf(cache, VAE); // the old version's parts were removed
    expect([e.complete, e.bytes, e.meta?.sha256]).toEqual([true, changed.length, shaOf(changed)]);
    expect(shaOf(new Uint8Array(await (await cache.get(e.key))!.arrayBuffer()))).toBe(shaOf(changed));
  });

  it('keeps what arrived before a cancel, and a later load resumes from there', async () => {
    const cache = new MemoryCache();
    const ac = new AbortController();
    const stopAt = 400_000;
    const onProgress = (e: HubProgress) => {
      if (e.path === UNET && e.fileLoadedBytes >= stopAt) ac.abort();
    };
    await expect(loadPipelineFolder(hubSource(REPO, opts({ cache, signal: ac.signal, onProgress })))).rejects.toMatchObject({
      name: 'AbortError',
    });
    const partial = await entryOf(cache, UNET);
    expect(partial.complete).toBe(false);
    expect(partial.bytes).toBeGreaterThanOrEqual(stopAt);
    expect(partial.bytes).toBeLessThan(size(UNET));
    const before = hub.transfers(UNET).length;
    const p = await loadPipelineFolder(hubSource(REPO, opts({ cache })));
    // only the rest is sent again
    const rest = size(UNET) - partial.bytes;
    expect(hub.transfers(UNET).slice(before).map((r) => [r.status, r.range, r.bytes])).toEqual([[206, `bytes=${partial.bytes}-`, rest]]);
    expect(modelParams(p.weights.unet)).toEqual(reload.unet);
  });

  it('detects a damaged cached file (sha256 or size), drops it and fetches it again', async () => {
    const cache = new MemoryCache();
    await hubSource(REPO, opts({ cache })).download();
    const unet = await entryOf(cache, UNET);
    const whole = new Uint8Array(await (await cache.get(unet.key))!.arrayBuffer());
    const part0 = whole.slice(0, (await cache.parts(unet.key))[0].bytes);
    part0[100] ^= 1; // same size, one bit off
    await cache.putPart(unet.key, 0, part0);
    const vae = await entryOf(cache, VAE);
    await cache.putPart(vae.key, 0, new Uint8Array(1000)); // shorter

    const before = { unet: hub.transfers(UNET).length, vae: hub.transfers(VAE).length, te: hub.transfers(TE).length };
    const events: HubProgress[] = [];
    const p = await loadPipelineFolder(hubSource(REPO, opts({ cache, onProgress: (e) => events.push(e) })));
    const dropped = events.filter((e) => e.phase === 'discarded');
    expect(dropped.map((e) => e.path)).toEqual([UNET, VAE]);
    expect(dropped[0].message).toMatch(new RegExp(`sha256 is [0-9a-f]{64}, expected ${diskSha(UNET)}`));
    // part 0 (256 KiB) was replaced by 1000 bytes
    expect(dropped[1].message).toContain(`size is ${size(VAE) - (256 << 10) + 1000} bytes, expected ${size(VAE)}`);
    expect(hub.transfers(UNET).length - before.unet).toBe(1);
    expect(hub.transfers(VAE).length - before.vae).toBe(1);
    expect(hub.transfers(TE).length - before.te).toBe(0);
    await expectSameAsDisk(p.weights.unet, 'unet');
    await expectSameAsDisk(p.weights.vae, 'vae');
  });

  it('says clearly what is wrong: no such repo, file or revision; gated; private; not a Hub; offline', async () => {
    const host = new URL(hub.url).host;
    await expect(loadPipelineFolder(hubSource('nobody/nothing', opts()))).rejects.toThrow(
      `nobody/nothing: no such model repository on ${host} (HTTP 401); if it is private, give an access token`,
    );
    const src = hubSource(REPO, opts({ cache: new MemoryCache() }));
    expect(await src.exists('unet/nope.json')).toBe(false);
    await expect(src.readText('unet/nope.json')).rejects.toThrow(`${REPO}@main: no file unet/nope.json on ${host}`);
    await expect(loadPipelineFolder(hubSource(REPO, opts({ revision: 'v9' })))).rejects.toThrow(`${REPO}: no revision "v9" on ${host} (HTTP 404)`);

    hub.deny(403, 'GatedRepo');
    const gated = await loadPipelineFolder(hubSource(REPO, opts())).catch((e) => e);
    expect(gated).toBeInstanceOf(HubError);
    expect([gated.kind, gated.status]).toEqual(['gated', 403]);
    expect(gated.message).toBe(
      `${REPO} is a gated model (HTTP 403): accept its conditions at ${hub.url}/${REPO} while logged in, then give an access token`,
    );
    hub.deny(401);
    await expect(loadPipelineFolder(hubSource(REPO, opts()))).rejects.toThrow(
      `${REPO}: ${host} asks for authentication (HTTP 401): the repository is private or gated; give an access token that has access`,
    );
    hub.deny(403);
    await expect(loadPipelineFolder(hubSource(REPO, opts({ token: 'hf_x' })))).rejects.toThrow(
      `${REPO}: ${host} denies access (HTTP 403): the repository is private or gated; the access token given has no access to it`,
    );
    hub.deny(null);
    hub.options.html = true;
    await expect(loadPipelineFolder(hubSource(REPO, opts()))).rejects.toThrow(
      `${hub.url} answered ${REPO}/model_index.json with an HTML page, not the file: is ${hub.url} the Hugging Face Hub or a mirror of it?`,
    );

    const dead = await startFakeHub({ folder: MODEL });
    await dead.close();
    const offline = await loadPipelineFolder(hubSource(REPO, { baseUrl: dead.url, retries: 1, backoffMs: 1 })).catch((e) => e);
    expect(offline.kind).toBe('network');
    expect(offline.message).toMatch(new RegExp(`^cannot reach ${new URL(dead.url).host} for ${REPO}/model_index.json \\(.*ECONNREFUSED`));

    for (const bad of ['instruct-pix2pix', 'a/b/c', 'a b/c', '../x', 'owner/na--me', 'owner/name-']) {
      expect(() => hubSource(bad)).toThrow(`${JSON.stringify(bad)} is not a Hub model id: expected owner/name`);
    }
    expect(parseRepoId('https://huggingface.co/timbrooks/instruct-pix2pix/tree/main')).toBe(REPO);
    expect(parseRepoId(' timbrooks/instruct-pix2pix/ ')).toBe(REPO);
  });

  it('retries 5xx answers with backoff, a bounded number of times', async () => {
    hub.failNext(2, 500);
    const path = 'unet/config.json';
    const target = { url: `${hub.url}/${REPO}/resolve/main/${path}`, key: 'k', bytes: size(path) };
    const d = await downloadFile(target, { cache: new MemoryCache(), backoffMs: 1 });
    expect(await d.blob.text()).toBe(readFileSync(MODEL + path, 'utf8'));
    expect(hub.requests.map((r) => r.status)).toEqual([500, 500, 200]);
    hub.failNext(10, 503);
    await expect(downloadFile(target, { cache: new MemoryCache(), backoffMs: 1, retries: 2 })).rejects.toThrow(
      `${target.url}: HTTP 503 Service Unavailable for ${target.url} (gave up after 3 attempts)`,
    );
    expect(hub.requests.length).toBe(3 + 3);
  });
});

describe('quota', () => {
  it('checks the space a download needs before starting it', async () => {
    const quota = 3_000_000;
    const cache = new MemoryCache({ quotaBytes: quota });
    const err = await loadPipelineFolder(hubSource(REPO, opts({ cache }))).catch((e) => e);
    expect(err).toBeInstanceOf(QuotaError);
    // the cache holds only the small index of what the server said (no file data)
    const used = (await cache.usage()).bytes;
    expect(used).toBeLessThan(10_000);
    expect([err.needBytes, err.freeBytes]).toEqual([TOTAL, quota - used]);
    expect(err.message).toBe(
      `not enough browser storage for ${REPO} (12 files): needs ${(TOTAL / 1e6).toFixed(2)} MB, ${((quota - used) / 1e6).toFixed(2)} MB free ` +
        '(free disk space or remove cached models, then try again)',
    );
    expect(hub.requests.every((r) => r.method === 'HEAD')).toBe(true);
  });

  it('turns a QuotaExceededError while storing into the same message', async () => {
    const cache = new MemoryCache({ quotaBytes: 500_000 });
    const target = { url: `${hub.url}/${REPO}/resolve/main/${UNET}`, key: 'u', bytes: size(UNET) };
    const err = await downloadFile(target, { cache, partBytes: 128 << 10, backoffMs: 1 }).catch((e) => e);
    const stored = (await cache.usage()).bytes;
    expect(stored).toBe(3 * (128 << 10)); // three parts fit under 500 000 bytes, the fourth does not
    expect(err).toBeInstanceOf(QuotaError);
    expect([err.needBytes, err.freeBytes]).toEqual([size(UNET) - stored, 500_000 - stored]);
    expect(err.message).toMatch(/^not enough browser storage for .*: needs 1\.22 MB, 107 kB free/);
  });
});

describe('RateMeter', () => {
  it('measures speed over a moving window and derives the ETA from it', () => {
    const m = new RateMeter(5000);
    m.add(0, 0);
    m.add(1000, 1_000_000);
    m.add(2000, 3_000_000);
    expect(m.bytesPerSecond()).toBe(1_500_000); // 3 MB in 2 s
    expect(m.etaSeconds(3_000_000)).toBe(2);
    m.add(10_000, 4_000_000); // after a stall: from the last sample before the window (t = 2000)
    expect(m.bytesPerSecond()).toBe(125_000);
    m.add(11_000, 5_000_000);
    expect(m.bytesPerSecond()).toBeCloseTo(2_000_000 / 9, 6);
    expect(new RateMeter().etaSeconds(10)).toBeNull();
  });
});

/** Cache Storage as the browser has it, enough for BrowserCache: open/delete, match/put/delete/keys. */
class StandInCache {
  readonly store = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  constructor(private readonly limit: number) {}
  private url = (r: RequestInfo | URL) => (typeof r === 'string' ? new URL(r).href : r instanceof URL ? r.href : r.url);
  async match(r: RequestInfo | URL) {
    const e = this.store.get(this.url(r));
    return e ? new Response(e.body.slice(), { headers: e.headers }) : undefined;
  }
  async put(r: RequestInfo | URL, res: Response) {
    const body = new Uint8Array(await res.arrayBuffer());
    const used = [...this.store.values()].reduce((a, e) => a + e.body.length, 0);
    if (used + body.length > this.limit) throw new DOMException('quota', 'QuotaExceededError');
    this.store.set(this.url(r), { body, headers: [...res.headers] });
  }
  async delete(r: RequestInfo | URL) {
    return this.store.delete(this.url(r));
  }
  async keys() {
    return [...this.store.keys()].map((u) => new Request(u));
  }
}

class StandInStorage {
  readonly caches = new Map<string, StandInCache>();
  constructor(private readonly limit = Infinity) {}
  async open(name: string) {
    if (!this.caches.has(name)) this.caches.set(name, new StandInCache(this.limit));
    return this.caches.get(name)!;
  }
  async delete(name: string) {
    return this.caches.delete(name);
  }
}

describe('BrowserCache (over a Cache Storage stand-in)', () => {
  it('stores parts and manifests that a later load finds, lists, repairs and removes', async () => {
    const storage = new StandInStorage();
    const cache = new BrowserCache('retouch-models-v1', storage as unknown as CacheStorage, async () => ({ quota: 1e9, usage: 0 }));
    await loadPipelineFolder(hubSource(REPO, opts({ cache })));
    const stand = storage.caches.get('retouch-models-v1')!;
    const unetKeys = [...stand.store.keys()].filter((u) => u.includes(UNET));
    // the manifest at the key URL, and ceil(size / 256 KiB) numbered parts
    expect(unetKeys.length).toBe(1 + Math.ceil(size(UNET) / (256 << 10)));
    expect(unetKeys.filter((u) => u.endsWith('retouch-part=0')).length).toBe(1);

    const files = (await cache.list()).filter((e) => e.meta?.kind === 'file');
    expect(files.map((e) => [e.meta!.path, e.bytes, e.complete]).sort()).toEqual(PLANNED.map((p) => [p, size(p), true]).sort());
    const usage = await cache.usage();
    expect(usage.entries).toBe(PLANNED.length + 1); // and the index
    expect(usage.bytes).toBeGreaterThan(TOTAL);
    expect(usage.bytes).toBeLessThan(TOTAL + 20_000);

    const before = hub.requests.length;
    const p = await loadPipelineFolder(hubSource(REPO, opts({ cache })));
    expect(hub.requests.length).toBe(before);
    expect(modelParams(p.weights.text_encoder)).toEqual(reload.text_encoder);

    const te = await entryOf(cache, TE);
    const whole = new Uint8Array(await (await cache.get(te.key))!.arrayBuffer());
    expect(shaOf(whole)).toBe(diskSha(TE));
    const part = whole.slice(256 << 10, 512 << 10);
    part[7] ^= 0x40;
    await cache.putPart(te.key, 1, part);
    const events: HubProgress[] = [];
    await hubSource(REPO, opts({ cache, onProgress: (e) => events.push(e) })).openSafetensors(TE);
    expect(events.filter((e) => e.phase === 'discarded').map((e) => e.path)).toEqual([TE]);
    expect(hub.transfers(TE).length).toBe(2);
    expect(shaOf(new Uint8Array(await (await cache.get(te.key))!.arrayBuffer()))).toBe(diskSha(TE));

    expect(await removeCachedRepo(cache, REPO, hub.url)).toBe(PLANNED.length + 1);
    expect(await cache.list()).toEqual([]);
    await cache.putPart('anything', 0, new Uint8Array(3));
    expect((await cache.list()).map((e) => [e.key, e.bytes, e.complete])).toEqual([['anything', 3, false]]);
    await cache.clear();
    expect(storage.caches.size).toBe(0);
  });

  it('reports a full Cache Storage with the quota message', async () => {
    const storage = new StandInStorage(2_000_000);
    const cache = new BrowserCache('retouch-models-v1', storage as unknown as CacheStorage, async () => ({ quota: 1e9, usage: 0 }));
    const err = await loadPipelineFolder(hubSource(REPO, opts({ cache }))).catch((e) => e);
    expect(err).toBeInstanceOf(QuotaError);
    // vocab, merges and the small files fit (1.49 MB); the UNet's parts fill the 2 MB
    const stored = (await cache.usage()).bytes;
    expect(stored).toBeLessThanOrEqual(2_000_000);
    const unet = await entryOf(cache, UNET);
    expect([unet.complete, err.needBytes]).toEqual([false, size(UNET) - unet.bytes]);
    expect(err.message).toBe(
      `not enough browser storage for ${REPO}/${UNET}: needs ${(err.needBytes / 1e6).toFixed(2)} MB more, ` +
        'and the browser refused to store it (it estimates 1.00 GB free) (free disk space or remove cached models, then try again)',
    );
  });
});
