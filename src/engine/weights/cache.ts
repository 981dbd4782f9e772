// Where downloaded model files live between visits: Cache Storage in the browser, a Map in Node tests. Files are
// stored as numbered parts as they arrive (so a dropped connection or a reload resumes) and stay parts when
// complete: a small manifest entry marks them whole, and get() joins the part Blobs without copying bytes.
import { SourceError } from './sources.ts';

/** What the downloader records about a complete file. */
export interface EntryMeta {
  kind?: 'file' | 'index';
  url?: string;
  repo?: string;
  path?: string;
  etag?: string;
  sha256?: string;
}

export interface PartInfo {
  bytes: number;
  /** The ETag of the response the part came from, so a resume can tell when the file changed on the server. */
  tag?: string;
}

export interface CacheEntry {
  key: string;
  /** Bytes stored (all parts). */
  bytes: number;
  parts: number;
  complete: boolean;
  /** Milliseconds since the epoch: first part written, last write. */
  created: number;
  updated: number;
  meta?: EntryMeta;
}

export interface StorageEstimateLite {
  quota: number;
  usage: number;
}

export interface ModelCache {
  /** The whole file of a complete entry, or null (absent or still partial). */
  get(key: string): Promise<Blob | null>;
  /** Stored parts of an entry in order, complete or not ([] when absent). */
  parts(key: string): Promise<PartInfo[]>;
  /** Stores part `index` (0 .. parts().length: appends, or replaces an existing one). */
  putPart(key: string, index: number, data: Uint8Array, tag?: string): Promise<void>;
  /** Marks the stored parts as the complete file and returns it. */
  assemble(key: string, meta?: EntryMeta): Promise<Blob>;
  list(): Promise<CacheEntry[]>;
  delete(key: string): Promise<void>;
  clear(): Promise<void>;
  usage(): Promise<{ bytes: number; entries: number }>;
  /** Quota and usage of the whole origin (navigator.storage.estimate()), or null where unknown. */
  estimate(): Promise<StorageEstimateLite | null>;
}

/** Decimal units, as the Hub shows sizes (1.72 GB). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (n >= 1000 && u < units.length - 1) {
    n /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toPrecision(3)} ${units[u]}`;
}

export class QuotaError extends SourceError {
  override name = 'QuotaError';
  /** `refused`: a write failed although the estimate showed room (estimates are approximate). */
  constructor(
    what: string,
    readonly needBytes: number,
    readonly freeBytes: number,
    refused = false,
  ) {
    const free = refused
      ? `${formatBytes(needBytes)} more, and the browser refused to store it (it estimates ${formatBytes(freeBytes)} free)`
      : `${formatBytes(needBytes)}, ${formatBytes(freeBytes)} free`;
    super(`not enough browser storage for ${what}: needs ${free} (free disk space or remove cached models, then try again)`);
  }
}

/** A storage write refused for lack of space (DOMException QuotaExceededError in browsers). */
export function isQuotaExceeded(e: unknown): boolean {
  return e instanceof Error && (e.name === 'QuotaExceededError' || (e as { code?: unknown }).code === 22);
}

async function freeBytes(cache: ModelCache): Promise<number | null> {
  const est = await cache.estimate();
  return est ? Math.max(0, est.quota - est.usage) : null;
}

/** Throws QuotaError when `needBytes` more will not fit (no-op where the quota is unknown). */
export async function checkQuota(cache: ModelCache, needBytes: number, what: string): Promise<void> {
  if (needBytes <= 0) return;
  const free = await freeBytes(cache);
  if (free !== null && needBytes > free) throw new QuotaError(what, needBytes, free);
}

/** The QuotaError for a write that failed with QuotaExceededError. */
export async function quotaErrorAfterPut(cache: ModelCache, needBytes: number, what: string): Promise<QuotaError> {
  const free = (await freeBytes(cache).catch(() => null)) ?? 0;
  return new QuotaError(what, needBytes, free, free >= needBytes);
}

interface MemEntry {
  parts: { data: Uint8Array; tag?: string }[];
  created: number;
  updated: number;
  meta?: EntryMeta;
  complete: boolean;
}

/** In-memory cache for Node and tests. `quotaBytes` bounds what it stores: estimate() reports it and a put past it
 * fails with QuotaExceededError, as Cache Storage does. */
export class MemoryCache implements ModelCache {
  private readonly entries = new Map<string, MemEntry>();

  constructor(private readonly opts: { quotaBytes?: number } = {}) {}

  private stored(): number {
    let n = 0;
    for (const e of this.entries.values()) for (const p of e.parts) n += p.data.length;
    return n;
  }

  async get(key: string): Promise<Blob | null> {
    const e = this.entries.get(key);
    return e?.complete ? new Blob(e.parts.map((p) => p.data as Uint8Array<ArrayBuffer>)) : null;
  }

  async parts(key: string): Promise<PartInfo[]> {
    return (this.entries.get(key)?.parts ?? []).map((p) => ({ bytes: p.data.length, tag: p.tag }));
  }

  async putPart(key: string, index: number, data: Uint8Array, tag?: string): Promise<void> {
    const now = Date.now();
    const e = this.entries.get(key) ?? { parts: [], created: now, updated: now, complete: false };
    if (!Number.isInteger(index) || index < 0 || index > e.parts.length) {
      throw new RangeError(`MemoryCache.putPart(${key}): part ${index} would leave a gap (${e.parts.length} stored)`);
    }
    const grow = data.length - (e.parts[index]?.data.length ?? 0);
    if (this.opts.quotaBytes !== undefined && this.stored() + grow > this.opts.quotaBytes) {
      throw new DOMException(`MemoryCache: quota of ${this.opts.quotaBytes} bytes exceeded`, 'QuotaExceededError');
    }
    e.parts[index] = { data: data.slice(), tag };
    e.updated = now;
    this.entries.set(key, e);
  }

  async assemble(key: string, meta?: EntryMeta): Promise<Blob> {
    const e = this.entries.get(key);
    if (!e) throw new Error(`MemoryCache.assemble(${key}): no parts stored`);
    e.complete = true;
    e.meta = meta;
    e.updated = Date.now();
    return (await this.get(key))!;
  }

  async list(): Promise<CacheEntry[]> {
    return [...this.entries].map(([key, e]) => ({
      key,
      bytes: e.parts.reduce((a, p) => a + p.data.length, 0),
      parts: e.parts.length,
      complete: e.complete,
      created: e.created,
      updated: e.updated,
      meta: e.meta,
    }));
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async clear(): Promise<void> {
    this.entries.clear();
  }

  async usage(): Promise<{ bytes: number; entries: number }> {
    return { bytes: this.stored(), entries: this.entries.size };
  }

  async estimate(): Promise<StorageEstimateLite | null> {
    return this.opts.quotaBytes === undefined ? null : { quota: this.opts.quotaBytes, usage: this.stored() };
  }
}

const PART = 'retouch-part';

/** Cache Storage (window or worker): the manifest of an entry at its key URL (JSON), part i at key URL +
 * `retouch-part=i` with its size, tag and date in headers. Keys that are not http(s) URLs are wrapped in one. */
export class BrowserCache implements ModelCache {
  private opened: Promise<Cache> | null = null;

  constructor(
    readonly cacheName = 'retouch-models-v1',
    private readonly storage: CacheStorage = globalThis.caches,
    private readonly estimateFn: (() => Promise<StorageEstimate>) | null = defaultEstimate(),
  ) {
    if (!storage) throw new Error('BrowserCache: Cache Storage (caches) is not available here (not a secure context?)');
  }

  private open(): Promise<Cache> {
    return (this.opened ??= this.storage.open(this.cacheName));
  }

  private url(key: string): string {
    return /^https?:\/\/[^#\s]+$/.test(key) ? new URL(key).href : `https://retouch.invalid/key/${encodeURIComponent(key)}`;
  }

  private partUrl(key: string, i: number): string {
    const u = this.url(key);
    return `${u}${u.includes('?') ? '&' : '?'}${PART}=${i}`;
  }

  async get(key: string): Promise<Blob | null> {
    const c = await this.open();
    const man = await c.match(this.url(key));
    if (!man) return null;
    const { parts } = (await man.json()) as { parts: number };
    const blobs: Blob[] = [];
    for (let i = 0; i < parts; i++) {
      const r = await c.match(this.partUrl(key, i));
      if (!r) return null; // a part went missing: not whole any more
      blobs.push(await r.blob()); // disk-backed in Chrome: no bytes are read here
    }
    return new Blob(blobs);
  }

  async parts(key: string): Promise<PartInfo[]> {
    const c = await this.open();
    const out: PartInfo[] = [];
    for (let i = 0; ; i++) {
      const r = await c.match(this.partUrl(key, i));
      if (!r) return out;
      out.push({ bytes: Number(r.headers.get('x-retouch-bytes')), tag: r.headers.get('x-retouch-tag') || undefined });
    }
  }

  async putPart(key: string, index: number, data: Uint8Array, tag?: string): Promise<void> {
    const c = await this.open();
    if (index > 0 && !(await c.match(this.partUrl(key, index - 1)))) {
      throw new RangeError(`BrowserCache.putPart(${key}): part ${index} would leave a gap`);
    }
    const headers = {
      'content-type': 'application/octet-stream',
      'x-retouch-bytes': String(data.length),
      'x-retouch-date': String(Date.now()),
      'x-retouch-tag': tag ?? '',
    };
    await c.put(this.partUrl(key, index), new Response(data.slice(), { headers }));
  }

  async assemble(key: string, meta?: EntryMeta): Promise<Blob> {
    const c = await this.open();
    const parts = await this.parts(key);
    const bytes = parts.reduce((a, p) => a + p.bytes, 0);
    const body = JSON.stringify({ parts: parts.length, bytes, meta: meta ?? null });
    const headers = { 'content-type': 'application/json', 'x-retouch-date': String(Date.now()) };
    await c.put(this.url(key), new Response(body, { headers }));
    const blob = await this.get(key);
    if (!blob) throw new Error(`BrowserCache.assemble(${key}): parts went missing`);
    return blob;
  }

  /** Every entry by key (manifests and parts read from their headers; part bodies are not read). */
  async list(): Promise<CacheEntry[]> {
    const c = await this.open();
    const byKey = new Map<string, CacheEntry>();
    const entry = (url: string) => {
      let e = byKey.get(url);
      if (!e) byKey.set(url, (e = { key: unwrap(url), bytes: 0, parts: 0, complete: false, created: Infinity, updated: 0 }));
      return e;
    };
    for (const req of await c.keys()) {
      const r = await c.match(req);
      if (!r) continue;
      const date = Number(r.headers.get('x-retouch-date')) || 0;
      const m = new RegExp(`[?&]${PART}=(\\d+)$`).exec(req.url);
      const e = entry(m ? req.url.slice(0, m.index) : req.url);
      if (m) {
        e.parts++;
        e.bytes += Number(r.headers.get('x-retouch-bytes')) || 0;
        e.created = Math.min(e.created, date);
      } else {
        e.complete = true;
        e.meta = ((await r.json()) as { meta: EntryMeta | null }).meta ?? undefined;
      }
      e.updated = Math.max(e.updated, date);
    }
    return [...byKey.values()].map((e) => ({ ...e, created: Number.isFinite(e.created) ? e.created : e.updated }));
  }

  async delete(key: string): Promise<void> {
    const c = await this.open();
    const base = this.url(key);
    for (const req of await c.keys()) {
      const rest = req.url.startsWith(base) ? req.url.slice(base.length) : null;
      if (rest === '' || (rest !== null && new RegExp(`^[?&]${PART}=\\d+$`).test(rest))) await c.delete(req);
    }
  }

  async clear(): Promise<void> {
    this.opened = null;
    await this.storage.delete(this.cacheName);
  }

  async usage(): Promise<{ bytes: number; entries: number }> {
    const all = await this.list();
    return { bytes: all.reduce((a, e) => a + e.bytes, 0), entries: all.length };
  }

  async estimate(): Promise<StorageEstimateLite | null> {
    if (!this.estimateFn) return null;
    const e = await this.estimateFn();
    return e.quota === undefined ? null : { quota: e.quota, usage: e.usage ?? 0 };
  }

  /** Asks the browser not to evict this origin's storage under pressure (true when granted). */
  async persist(): Promise<boolean> {
    return (await globalThis.navigator?.storage?.persist?.()) ?? false;
  }
}

function defaultEstimate(): (() => Promise<StorageEstimate>) | null {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage as StorageManager | undefined;
  return typeof storage?.estimate === 'function' ? () => storage.estimate() : null;
}

function unwrap(url: string): string {
  const p = 'https://retouch.invalid/key/';
  return url.startsWith(p) ? decodeURIComponent(url.slice(p.length)) : url;
}
