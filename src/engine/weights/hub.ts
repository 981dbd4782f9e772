// A diffusers pipeline repo on the Hugging Face Hub (or a mirror, or a local server that answers like it) as a
// FileSource: each file is downloaded once into the browser cache with progress, resumed, verified, and read
// from there afterwards, also offline. planDownload() says what a download will cost before it starts.
import { BrowserCache, MemoryCache, checkQuota, type ModelCache } from './cache.ts';
import { COMPONENTS, WEIGHT_STEMS, type Variant } from './diffusers.ts';
import {
  HubError,
  RateMeter,
  abortError,
  backoffDelay,
  downloadFile,
  normalizeEtag,
  sleep,
  type DownloadProgress,
  type DownloadTarget,
  type Downloaded,
} from './download.ts';
import { SafetensorsFile } from './safetensors.ts';
import type { FileSource } from './sources.ts';

export { HubError } from './download.ts';
export { QuotaError } from './cache.ts';

export const HUB_URL = 'https://huggingface.co';

/** The files of a pipeline besides the weights; the optional ones are skipped where the repo lacks them. */
const REQUIRED = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'tokenizer/vocab.json',
  'tokenizer/merges.txt',
  'unet/config.json',
  'vae/config.json',
];
const OPTIONAL = ['tokenizer/special_tokens_map.json', 'tokenizer/tokenizer_config.json'];

export interface HubOptions {
  /** Branch, tag or commit (default 'main'). */
  revision?: string;
  /** The Hub or a mirror answering `{baseUrl}/{repo}/resolve/{revision}/{path}` (default https://huggingface.co). */
  baseUrl?: string;
  /** Which weight files the plan takes (default 'auto': fp16 where the repo has them, as the loader does). */
  variant?: Variant;
  fetch?: typeof fetch;
  /** Default: Cache Storage where there is one (BrowserCache), else memory. */
  cache?: ModelCache;
  /** A Hub access token, for gated or private repos. */
  token?: string;
  onProgress?: (p: HubProgress) => void;
  signal?: AbortSignal;
  /** Ask the server again for files already known from an earlier visit (default false: a cached revision is
   * used as it is, also offline). On a network error the earlier answer is used. */
  revalidate?: boolean;
  /** 'sha256' (default): hash every file whose sha256 is known, fresh or cached; see DownloadOptions.verify. */
  verify?: 'sha256' | 'size';
  partBytes?: number;
  retries?: number;
  backoffMs?: number;
  ifRange?: boolean;
  progressIntervalMs?: number;
}

/** One file as the server describes it. */
export interface RepoFile {
  path: string;
  url: string;
  bytes: number;
  etag?: string;
  sha256?: string;
  commit?: string;
  /** Stored with Git LFS (the Hub redirects it to a CDN). */
  lfs: boolean;
}

export interface PlannedFile {
  path: string;
  url: string;
  bytes: number;
  sha256?: string;
  /** Already in the cache (whole or in parts). */
  cachedBytes: number;
}

export interface DownloadPlan {
  repo: string;
  revision: string;
  baseUrl: string;
  /** The commit the revision pointed at (X-Repo-Commit), where the server said. */
  commit?: string;
  files: PlannedFile[];
  totalBytes: number;
  cachedBytes: number;
  /** What is left to download: totalBytes - cachedBytes. */
  downloadBytes: number;
}

export interface HubProgress {
  repo: string;
  path: string;
  /** 'cached': the file was whole in the cache; 'discarded': a damaged cached copy was dropped (see message). */
  phase: 'download' | 'verify' | 'done' | 'cached' | 'discarded';
  message?: string;
  fileLoadedBytes: number;
  fileTotalBytes: number;
  /** Over the planned files. */
  loadedBytes: number;
  totalBytes: number;
  filesDone: number;
  fileCount: number;
  /** Network speed over the last seconds, and the time left for everything at that speed. */
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface HubSource extends FileSource {
  readonly repo: string;
  readonly revision: string;
  readonly baseUrl: string;
  readonly cache: ModelCache;
  /** What the download takes (HEAD requests only; no request at all for a revision cached before). */
  plan(): Promise<DownloadPlan>;
  /** Every planned file into the cache, after the quota check. */
  download(): Promise<DownloadPlan>;
  /** The file as the cache holds it when whole (size checked, not the sha256), else null; no request once the
   * file is known. For reading a safetensors header without hashing (or fetching again) the whole file. */
  cachedFile(path: string): Promise<Blob | null>;
}

/** 'owner/name' from an id or a pasted Hub page URL; throws HubError('invalid-repo') for anything else. */
export function parseRepoId(input: string): string {
  const s = input
    .trim()
    .replace(/^https?:\/\/[^/]+\//, '')
    .replace(/\/(tree|blob|resolve)\/.*$/, '')
    .replace(/\/+$/, '');
  const part = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;
  const [owner, name, ...rest] = s.split('/');
  if (rest.length || !name || !part.test(owner) || !part.test(name) || /--|\.\./.test(s)) {
    throw new HubError(
      `${JSON.stringify(input)} is not a Hub model id: expected owner/name (letters, digits, '-', '_', '.'), e.g. timbrooks/instruct-pix2pix`,
      'invalid-repo',
    );
  }
  return `${owner}/${name}`;
}

function defaultCache(): ModelCache {
  return typeof globalThis.caches !== 'undefined' ? new BrowserCache() : new MemoryCache();
}

const retryable = (status: number) => status >= 500 || status === 429 || status === 408;

interface RepoIndex {
  v: 1;
  /** What the server said about each path asked so far (null: no such file). */
  files: Record<string, RepoFile | null>;
}

/** One repo at one revision on one server: file descriptions (HEAD, remembered in the cache), plan, downloads. */
class HubRepo {
  readonly repo: string;
  readonly revision: string;
  readonly base: string;
  readonly host: string;
  readonly name: string;
  readonly cache: ModelCache;
  private readonly fetchFn: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly infos = new Map<string, Promise<RepoFile | null>>();
  private readonly shaByDir = new Map<string, Promise<Map<string, string>>>();
  private indexP: Promise<RepoIndex> | null = null;
  private saving: Promise<void> = Promise.resolve();
  private planned: Promise<DownloadPlan> | null = null;
  // Progress over the plan: bytes in hand and received per path.
  private readonly sizes = new Map<string, number>();
  private readonly inHand = new Map<string, number>();
  private readonly received = new Map<string, number>();
  private readonly done = new Set<string>();
  private readonly meter = new RateMeter();

  constructor(
    repo: string,
    private readonly opts: HubOptions,
  ) {
    this.repo = parseRepoId(repo);
    this.revision = opts.revision ?? 'main';
    if (!this.revision || /\s|\.\./.test(this.revision)) {
      throw new HubError(`${JSON.stringify(this.revision)} is not a revision (a branch, tag or commit)`, 'invalid-repo');
    }
    let base: URL;
    try {
      base = new URL(opts.baseUrl ?? HUB_URL, (globalThis as { location?: { href: string } }).location?.href); // relative: same origin
    } catch {
      throw new HubError(`${JSON.stringify(opts.baseUrl)} is not a URL (expected e.g. ${HUB_URL})`, 'invalid-repo');
    }
    this.base = base.href.replace(/\/+$/, '');
    this.host = base.host;
    this.name = this.base === HUB_URL ? `${this.repo}@${this.revision}` : `${this.base}/${this.repo}@${this.revision}`;
    this.cache = opts.cache ?? defaultCache();
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  }

  url(path: string): string {
    const enc = path.split('/').map(encodeURIComponent).join('/');
    return new URL(`${this.base}/${this.repo}/resolve/${encodeURIComponent(this.revision)}/${enc}`).href;
  }

  private key(f: RepoFile): string {
    return `${f.url}?etag=${encodeURIComponent(f.etag ?? `size-${f.bytes}`)}`;
  }

  private get indexKey(): string {
    return this.url('.retouch-index.json');
  }

  // ---- answers from the server ----

  private answerError(res: Response, path: string): HubError {
    const code = res.headers.get('x-error-code') ?? '';
    const msg = res.headers.get('x-error-message') ?? '';
    const s = res.status;
    const token = this.opts.token;
    if (code === 'GatedRepo' || /gated|restricted/i.test(msg)) {
      return new HubError(
        `${this.repo} is a gated model (HTTP ${s}): accept its conditions at ${this.base}/${this.repo} while logged in, ` +
          `then give an access token${token ? ' of that account' : ''}`,
        'gated',
        s,
      );
    }
    if (code === 'RepositoryNotFound') {
      return new HubError(
        `${this.repo}: no such model repository on ${this.host} (HTTP ${s})${token ? '' : '; if it is private, give an access token'}`,
        'not-found',
        s,
      );
    }
    if (code === 'RevisionNotFound') {
      return new HubError(`${this.repo}: no revision "${this.revision}" on ${this.host} (HTTP ${s})`, 'not-found', s);
    }
    if (s === 404) return new HubError(`${this.repo}@${this.revision}: no file ${path} on ${this.host} (HTTP 404)`, 'not-found', s);
    if (s === 401 || s === 403) {
      const why = s === 401 ? 'asks for authentication' : 'denies access';
      const fix = token ? 'the access token given has no access to it' : 'give an access token that has access';
      return new HubError(`${this.repo}: ${this.host} ${why} (HTTP ${s}): the repository is private or gated; ${fix}`, 'unauthorized', s);
    }
    return new HubError(`${this.repo}/${path}: ${this.host} answered HTTP ${s} ${res.statusText}`, 'http', s);
  }

  /** fetch with retries (backoff) on network errors and 5xx/429. */
  private async request(url: string, init: RequestInit, path: string): Promise<Response> {
    const signal = this.opts.signal;
    for (let failures = 1; ; failures++) {
      if (signal?.aborted) throw abortError(signal);
      let res: Response | null = null;
      let why = '';
      try {
        res = await this.fetchFn(url, { ...init, headers: { ...this.headers, ...init.headers }, signal });
        if (!retryable(res.status)) return res;
      } catch (e) {
        if (signal?.aborted) throw abortError(signal);
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        why = [(e as Error).message, cause?.code ?? cause?.message].filter(Boolean).join(': ');
      }
      if (failures > (this.opts.retries ?? 5)) {
        if (res) throw this.answerError(res, path);
        throw new HubError(`cannot reach ${this.host} for ${this.repo}/${path} (${why}; offline, or blocked by CORS?)`, 'network');
      }
      await sleep(backoffDelay(failures, this.opts.backoffMs ?? 500), signal);
    }
  }

  /** sha256 of LFS files from the tree API, for when the CDN's ETag is not one (the Hub's X-Linked-Etag is lost
   * behind the redirect that fetch follows). A server without the API gives none: size checks only. */
  private async treeSha(path: string): Promise<string | undefined> {
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    let p = this.shaByDir.get(dir);
    if (!p) {
      const url = `${this.base}/api/models/${this.repo}/tree/${encodeURIComponent(this.revision)}/${dir}`;
      p = (async () => {
        const out = new Map<string, string>();
        try {
          const res = await this.request(url, {}, `${dir} (tree)`);
          const list = res.ok ? ((await res.json()) as { path?: unknown; lfs?: { oid?: unknown } }[]) : [];
          for (const e of Array.isArray(list) ? list : []) {
            if (typeof e?.path === 'string' && typeof e.lfs?.oid === 'string') out.set(e.path, e.lfs.oid.toLowerCase());
          }
        } catch (e) {
          if (this.opts.signal?.aborted) throw e;
        }
        return out;
      })();
      this.shaByDir.set(dir, p);
    }
    const sha = (await p).get(path);
    return sha && /^[0-9a-f]{64}$/.test(sha) ? sha : undefined;
  }

  private async head(path: string): Promise<RepoFile | null> {
    const url = this.url(path);
    const res = await this.request(url, { method: 'HEAD' }, path);
    if (res.status === 404 && !/^(RepositoryNotFound|RevisionNotFound)$/.test(res.headers.get('x-error-code') ?? '')) return null;
    if (!res.ok) throw this.answerError(res, path);
    if (/^text\/html/i.test(res.headers.get('content-type') ?? '') && !path.endsWith('.html')) {
      throw new HubError(
        `${this.base} answered ${this.repo}/${path} with an HTML page, not the file: is ${this.base} the Hugging Face Hub or a mirror of it?`,
        'not-hub',
        res.status,
      );
    }
    const size = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
    if (size === null || !/^\d+$/.test(size.trim())) {
      throw new HubError(`${this.base} gave no size for ${this.repo}/${path} (no Content-Length): not a Hub answer`, 'not-hub', res.status);
    }
    const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
    const lfs = res.redirected || res.headers.has('x-linked-size');
    let sha256 = etag && /^[0-9a-f]{64}$/.test(etag) ? etag : undefined;
    if (!sha256 && lfs) sha256 = await this.treeSha(path);
    const commit = res.headers.get('x-repo-commit') ?? undefined;
    return { path, url, bytes: Number(size), etag, sha256, commit, lfs };
  }

  // ---- what is known, remembered in the cache so a later visit needs no request ----

  private index(): Promise<RepoIndex> {
    return (this.indexP ??= (async () => {
      try {
        const blob = await this.cache.get(this.indexKey);
        const j = blob ? (JSON.parse(await blob.text()) as RepoIndex) : null;
        if (j?.v === 1 && typeof j.files === 'object' && j.files) return j;
      } catch {
        // an unreadable index is rebuilt from the server's answers
      }
      return { v: 1, files: {} };
    })());
  }

  private async remember(path: string, f: RepoFile | null | undefined): Promise<void> {
    const idx = await this.index();
    if (f === undefined) delete idx.files[path];
    else idx.files[path] = f;
    const save = async () => {
      await this.cache.putPart(this.indexKey, 0, new TextEncoder().encode(JSON.stringify(idx)));
      await this.cache.assemble(this.indexKey, { kind: 'index', repo: this.repo, url: this.indexKey });
    };
    // The index only saves requests: a failure to store it (quota) is not worth failing a load for.
    this.saving = this.saving.then(save).catch(() => undefined);
    await this.saving;
  }

  info(path: string): Promise<RepoFile | null> {
    if (!path || path.startsWith('/') || path.split('/').includes('..')) {
      return Promise.reject(new HubError(`${JSON.stringify(path)} is not a file path inside a repo`, 'invalid-repo'));
    }
    let p = this.infos.get(path);
    if (!p) {
      p = (async () => {
        const idx = await this.index();
        const known = Object.hasOwn(idx.files, path);
        if (known && !this.opts.revalidate) return idx.files[path];
        try {
          const f = await this.head(path);
          await this.remember(path, f);
          return f;
        } catch (e) {
          if (known && e instanceof HubError && e.kind === 'network') return idx.files[path];
          throw e;
        }
      })();
      this.infos.set(path, p);
      p.catch(() => this.infos.delete(path));
    }
    return p;
  }

  async plan(): Promise<DownloadPlan> {
    const variant = this.opts.variant ?? 'auto';
    const weights = COMPONENTS.map((c) => ({ c, fp16: `${WEIGHT_STEMS[c]}.fp16.safetensors`, fp32: `${WEIGHT_STEMS[c]}.safetensors` }));
    const asked = [...REQUIRED, ...OPTIONAL];
    for (const w of weights) asked.push(...(variant === 'fp32' ? [w.fp32] : variant === 'fp16' ? [w.fp16] : [w.fp16, w.fp32]));
    const found = new Map(await Promise.all(asked.map(async (p) => [p, await this.info(p)] as const)));
    const missing = REQUIRED.filter((p) => !found.get(p));
    if (missing.length) {
      throw new HubError(`${this.name} is not a diffusers pipeline repo: it has no ${missing.join(', ')}`, 'not-found', 404);
    }
    const files = [...REQUIRED, ...OPTIONAL].map((p) => found.get(p)).filter((f): f is RepoFile => !!f);
    for (const w of weights) {
      const pick = variant === 'fp32' ? found.get(w.fp32) : variant === 'fp16' ? found.get(w.fp16) : (found.get(w.fp16) ?? found.get(w.fp32));
      if (!pick) {
        const want = variant === 'fp32' ? w.fp32 : variant === 'fp16' ? w.fp16 : `${w.fp16} or ${w.fp32}`;
        throw new HubError(`${this.name}: no ${want} (the ${w.c} weights, variant ${variant})`, 'not-found', 404);
      }
      files.push(pick);
    }
    const stored = new Map((await this.cache.list()).map((e) => [e.key, e.bytes]));
    const planned = files.map((f) => ({
      path: f.path,
      url: f.url,
      bytes: f.bytes,
      sha256: f.sha256,
      cachedBytes: Math.min(stored.get(this.key(f)) ?? 0, f.bytes),
    }));
    const totalBytes = planned.reduce((a, f) => a + f.bytes, 0);
    const cachedBytes = planned.reduce((a, f) => a + f.cachedBytes, 0);
    const commit = files.find((f) => f.commit)?.commit;
    return { repo: this.repo, revision: this.revision, baseUrl: this.base, commit, files: planned, totalBytes, cachedBytes, downloadBytes: totalBytes - cachedBytes };
  }

  /** The plan, once, with the quota checked against what is left to download. */
  ready(): Promise<DownloadPlan> {
    return (this.planned ??= (async () => {
      const plan = await this.plan();
      await checkQuota(this.cache, plan.downloadBytes, `${this.repo} (${plan.files.length} files)`);
      for (const f of plan.files) this.sizes.set(f.path, f.bytes);
      return plan;
    })().catch((e) => {
      this.planned = null;
      throw e;
    }));
  }

  // ---- downloads ----

  private emit(path: string, phase: HubProgress['phase'], fileLoadedBytes: number, message?: string): void {
    if (!this.opts.onProgress) return;
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const totalBytes = sum(this.sizes);
    const loadedBytes = sum(this.inHand);
    this.opts.onProgress({
      repo: this.repo,
      path,
      phase,
      message,
      fileLoadedBytes,
      fileTotalBytes: this.sizes.get(path) ?? 0,
      loadedBytes,
      totalBytes,
      filesDone: this.done.size,
      fileCount: this.sizes.size,
      bytesPerSecond: this.meter.bytesPerSecond(),
      etaSeconds: this.meter.etaSeconds(totalBytes - loadedBytes),
    });
  }

  private onDownload(path: string, p: DownloadProgress): void {
    this.inHand.set(path, p.loadedBytes);
    this.received.set(path, p.receivedBytes);
    this.meter.add(performance.now(), [...this.received.values()].reduce((a, b) => a + b, 0));
    if (p.phase === 'done') this.done.add(path);
    this.emit(path, p.phase, p.loadedBytes);
  }

  /** Removes every other version of the file (old ETags, whole or partial). */
  private async dropOtherVersions(f: RepoFile): Promise<void> {
    const keep = this.key(f);
    for (const e of await this.cache.list()) {
      if (e.key !== keep && e.key.startsWith(`${f.url}?etag=`)) await this.cache.delete(e.key);
    }
  }

  async cached(path: string): Promise<Blob | null> {
    const f = await this.info(path);
    const blob = f ? await this.cache.get(this.key(f)) : null;
    return blob && blob.size === f!.bytes ? blob : null;
  }

  async file(path: string): Promise<Downloaded> {
    await this.ready();
    for (let attempt = 0; ; attempt++) {
      const f = await this.info(path);
      if (!f) throw new HubError(`${this.repo}@${this.revision}: no file ${path} on ${this.host}`, 'not-found', 404);
      if (!this.sizes.has(path)) this.sizes.set(path, f.bytes);
      const target: DownloadTarget = {
        url: f.url,
        key: this.key(f),
        bytes: f.bytes,
        sha256: f.sha256,
        label: `${this.repo}/${path}`,
        meta: { kind: 'file', url: f.url, repo: this.repo, path, etag: f.etag, sha256: f.sha256 },
      };
      try {
        const d = await downloadFile(target, {
          cache: this.cache,
          fetch: this.fetchFn,
          headers: this.headers,
          signal: this.opts.signal,
          partBytes: this.opts.partBytes,
          retries: this.opts.retries,
          backoffMs: this.opts.backoffMs,
          ifRange: this.opts.ifRange,
          verify: this.opts.verify,
          progressIntervalMs: this.opts.progressIntervalMs,
          onProgress: (p) => this.onDownload(path, p),
          onDiscard: (why) => this.emit(path, 'discarded', 0, why),
        });
        if (d.fromCache) {
          this.inHand.set(path, f.bytes);
          this.done.add(path);
          this.emit(path, 'cached', f.bytes);
        } else {
          await this.dropOtherVersions(f);
        }
        return d;
      } catch (e) {
        // The file changed on the server (or failed its check): ask again what it is now, once.
        if (attempt > 0 || !(e instanceof HubError) || (e.kind !== 'changed' && e.kind !== 'integrity')) throw e;
        this.infos.delete(path);
        await this.remember(path, undefined);
      }
    }
  }
}

/** A FileSource over a Hub repo: loadPipelineFolder(hubSource('timbrooks/instruct-pix2pix')) downloads what the
 * cache lacks and reads the rest from it. exists() asks HEAD (remembered); readText/openSafetensors download. */
export function hubSource(repo: string, opts: HubOptions = {}): HubSource {
  const h = new HubRepo(repo, opts);
  return {
    name: h.name,
    repo: h.repo,
    revision: h.revision,
    baseUrl: h.base,
    cache: h.cache,
    exists: async (path) => (await h.info(path)) !== null,
    readText: async (path) => (await h.file(path)).blob.text(),
    async openSafetensors(path) {
      const d = await h.file(path);
      const fileName = `${h.name}/${path}`;
      // When the sha256 check read the file whole, parse those bytes instead of reading the Blob again.
      return d.data ? SafetensorsFile.fromArrayBuffer(d.data, fileName) : SafetensorsFile.fromBlob(d.blob, fileName);
    },
    plan: () => h.ready(),
    async download() {
      const plan = await h.ready();
      for (const f of plan.files) await h.file(f.path);
      return plan;
    },
    cachedFile: (path) => h.cached(path),
  };
}

/** Files, sizes and sha256 of the pipeline (HEAD requests), and how much of it the cache already holds; no quota
 * check (compare downloadBytes with the cache's estimate(), or call hubSource(...).plan(), which checks). */
export function planDownload(repo: string, opts: HubOptions = {}): Promise<DownloadPlan> {
  return new HubRepo(repo, opts).plan();
}

/** Deletes every cached file (whole or partial) of a repo on a server, all revisions. */
export async function removeCachedRepo(cache: ModelCache, repo: string, baseUrl = HUB_URL): Promise<number> {
  const prefix = `${new URL(baseUrl).href.replace(/\/+$/, '')}/${parseRepoId(repo)}/resolve/`;
  let n = 0;
  for (const e of await cache.list()) {
    if (e.key.startsWith(prefix)) {
      await cache.delete(e.key);
      n++;
    }
  }
  return n;
}
