// Fetches one file into a ModelCache part by part, so that a dropped connection, a cancel or a reload resumes with
// `Range: bytes=N-`; checks the size and the sha256, retries network errors with backoff, and reports speed and ETA
// over a moving window. A file that changed on the server between two requests is never spliced.
import { isQuotaExceeded, quotaErrorAfterPut, type EntryMeta, type ModelCache } from './cache.ts';
import { SourceError } from './sources.ts';

export type HubErrorKind =
  | 'invalid-repo'
  | 'not-found'
  | 'unauthorized'
  | 'gated'
  | 'network'
  | 'not-hub'
  | 'http'
  | 'integrity'
  | 'changed';

export class HubError extends SourceError {
  override name = 'HubError';
  constructor(
    message: string,
    readonly kind: HubErrorKind,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface DownloadTarget {
  url: string;
  /** Cache key: the resolve URL with the file's ETag, so another version of the file is another entry. */
  key: string;
  bytes: number;
  /** Lowercase hex; checked over the assembled file when given. */
  sha256?: string;
  /** How messages name the file (e.g. 'timbrooks/instruct-pix2pix/unet/config.json'). */
  label?: string;
  meta?: EntryMeta;
}

export interface DownloadProgress {
  url: string;
  phase: 'download' | 'verify' | 'done';
  /** Bytes of the file in hand: resumed parts plus what arrived. */
  loadedBytes: number;
  totalBytes: number;
  /** Bytes that came over the network in this call. */
  receivedBytes: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface DownloadOptions {
  cache: ModelCache;
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Called when a cached copy fails its check and is dropped, before it is fetched again. */
  onDiscard?: (why: string) => void;
  /** Bytes per stored part (default 16 MiB): what a reload can lose at most. */
  partBytes?: number;
  /** Failed attempts in a row (no byte received) before giving up (default 5). */
  retries?: number;
  /** First wait after a failure, doubled per failure up to 30 s (default 500 ms). */
  backoffMs?: number;
  /** Send If-Range with resumes. Off by default: it is not a CORS-safelisted header, so browsers would preflight
   * every CDN request; the ETag of each 206 answer is compared instead, which guards the same way. */
  ifRange?: boolean;
  /** 'sha256' (default): hash the assembled file when its sha256 is known. This reads the whole file into one
   * ArrayBuffer (1.72 GB for the UNet; crypto.subtle has no streaming digest), which is returned as `data` so the
   * caller can parse it without reading it again. 'size': check the size only. */
  verify?: 'sha256' | 'size';
  /** Least time between two 'download' progress calls (default 100 ms; the first and last always come). */
  progressIntervalMs?: number;
  now?: () => number;
}

export interface Downloaded {
  blob: Blob;
  /** The file's bytes when they were read for the sha256 check. */
  data?: Uint8Array<ArrayBuffer>;
  fromCache: boolean;
  /** Why a cached copy was discarded and fetched again, if one was. */
  discarded?: string;
  receivedBytes: number;
}

/** Bytes per second over the last `windowMs`: the oldest sample kept is the last one at or before the window start. */
export class RateMeter {
  private samples: [number, number][] = [];
  constructor(private readonly windowMs = 5000) {}

  add(timeMs: number, totalBytes: number): void {
    this.samples.push([timeMs, totalBytes]);
    while (this.samples.length > 2 && this.samples[1][0] <= timeMs - this.windowMs) this.samples.shift();
  }

  bytesPerSecond(): number {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  etaSeconds(remainingBytes: number): number | null {
    const r = this.bytesPerSecond();
    return remainingBytes <= 0 ? 0 : r > 0 ? remainingBytes / r : null;
  }
}

export async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** An ETag without W/ and quotes ('"abc"' -> 'abc'); undefined when absent. */
export function normalizeEtag(etag: string | null | undefined): string | undefined {
  const e = etag?.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return e ? e : undefined;
}

export function abortError(signal?: AbortSignal): unknown {
  return signal?.reason ?? new DOMException('The download was cancelled', 'AbortError');
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const done = () => {
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    const t = setTimeout(done, ms);
    const stop = () => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    signal?.addEventListener('abort', stop, { once: true });
  });
}

export function backoffDelay(failures: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** (failures - 1), 30_000) * (0.75 + Math.random() * 0.5);
}

const retryable = (status: number) => status >= 500 || status === 429 || status === 408;

async function checkWhole(blob: Blob, t: DownloadTarget, verify: 'sha256' | 'size') {
  if (blob.size !== t.bytes) return { why: `size is ${blob.size} bytes, expected ${t.bytes}` };
  if (verify === 'size' || !t.sha256) return { data: undefined };
  const data = new Uint8Array(await blob.arrayBuffer());
  const sha = await sha256Hex(data);
  return sha === t.sha256 ? { data } : { why: `sha256 is ${sha}, expected ${t.sha256}` };
}

/** The file from the cache when whole and sound, else fetched (resuming stored parts), checked and cached. */
export async function downloadFile(t: DownloadTarget, o: DownloadOptions): Promise<Downloaded> {
  const label = t.label ?? t.url;
  const verify = o.verify ?? 'sha256';
  let discarded: string | undefined;
  const cached = await o.cache.get(t.key);
  if (cached) {
    const c = await checkWhole(cached, t, verify);
    if (!('why' in c)) return { blob: cached, data: c.data, fromCache: true, receivedBytes: 0 };
    discarded = `cached ${label} was damaged (${c.why}): fetched again`;
    o.onDiscard?.(discarded);
    await o.cache.delete(t.key);
  }
  let received = 0;
  for (let round = 0; ; round++) {
    const got = await fetchParts(t, o, label, received);
    received += got.received;
    // A compressed transfer (Content-Encoding) has no byte-exact size to hold it to: its decoded size counts.
    const want = got.encoded ? { ...t, bytes: got.bytes } : t;
    const blob = await o.cache.assemble(t.key, t.meta);
    const progress = { url: t.url, loadedBytes: want.bytes, totalBytes: want.bytes, receivedBytes: received, bytesPerSecond: 0 };
    if (want.sha256 && verify === 'sha256') o.onProgress?.({ ...progress, phase: 'verify', etaSeconds: null });
    const c = await checkWhole(blob, want, verify);
    if (!('why' in c)) {
      o.onProgress?.({ ...progress, phase: 'done', etaSeconds: 0 });
      return { blob, data: c.data, fromCache: false, discarded, receivedBytes: received };
    }
    await o.cache.delete(t.key);
    if (round >= 1) throw new HubError(`${label}: the downloaded file failed its check twice (${c.why})`, 'integrity');
  }
}

/** Stores parts until the entry holds the whole file; returns the bytes received and the size held. */
async function fetchParts(
  t: DownloadTarget,
  o: DownloadOptions,
  label: string,
  receivedBefore: number,
): Promise<{ received: number; bytes: number; encoded: boolean }> {
  const fetchFn = o.fetch ?? globalThis.fetch.bind(globalThis);
  const partBytes = o.partBytes ?? 16 << 20;
  const now = o.now ?? (() => performance.now());
  const meter = new RateMeter();
  const stored = await o.cache.parts(t.key);
  let have = stored.reduce((a, p) => a + p.bytes, 0);
  let index = stored.length;
  let tag = stored[0]?.tag;
  let received = 0;
  let failures = 0;
  let encoded = false;
  let ended = false; // an encoded body ran to its end
  const reset = async () => {
    await o.cache.delete(t.key);
    [have, index, tag] = [0, 0, undefined];
  };
  if (have > t.bytes) await reset();
  let lastEmit = -Infinity;
  const emit = (force: boolean) => {
    const at = now();
    meter.add(at, receivedBefore + received);
    if (!o.onProgress || (!force && at - lastEmit < (o.progressIntervalMs ?? 100))) return;
    lastEmit = at;
    const total = Math.max(t.bytes, have);
    o.onProgress({
      url: t.url,
      phase: 'download',
      loadedBytes: have,
      totalBytes: total,
      receivedBytes: receivedBefore + received,
      bytesPerSecond: meter.bytesPerSecond(),
      etaSeconds: meter.etaSeconds(total - have),
    });
  };
  const fail = async (why: string, status?: number) => {
    failures++;
    if (failures > (o.retries ?? 5)) {
      throw new HubError(`${label}: ${why} (gave up after ${failures} attempts)`, status ? 'http' : 'network', status);
    }
    await sleep(backoffDelay(failures, o.backoffMs ?? 500), o.signal);
  };
  const drop = (res: Response) => res.body?.cancel().catch(() => undefined);
  emit(true);
  if (t.bytes === 0 && index === 0) await o.cache.putPart(t.key, index++, new Uint8Array(0)); // nothing to fetch

  while (!ended && have < t.bytes) {
    if (o.signal?.aborted) throw abortError(o.signal);
    const headers: Record<string, string> = { ...o.headers };
    if (have > 0) {
      headers.Range = `bytes=${have}-`;
      if (o.ifRange && tag && !tag.startsWith('W/')) headers['If-Range'] = `"${normalizeEtag(tag)}"`;
    }
    let res: Response;
    try {
      // no-store: the model cache keeps the file; the browser's HTTP cache would keep a second copy (or answer
      // with pieces of one stitched to the network's, which makes resumes and byte counts hard to reason about).
      res = await fetchFn(t.url, { headers, signal: o.signal, cache: 'no-store' });
    } catch (e) {
      if (o.signal?.aborted) throw abortError(o.signal);
      await fail(`cannot fetch ${t.url}: ${(e as Error).message}`);
      continue;
    }
    if (retryable(res.status)) {
      await drop(res);
      await fail(`HTTP ${res.status} ${res.statusText} for ${t.url}`, res.status);
      continue;
    }
    if (res.status === 416 && have > 0) {
      // The server has fewer bytes than we hold: what we hold is not this file.
      await drop(res);
      await reset();
      await fail(`${t.url} answered 416 to a resume`, 416);
      continue;
    }
    if (res.status !== 200 && res.status !== 206) {
      await drop(res);
      const kind = res.status === 404 ? 'not-found' : res.status === 401 || res.status === 403 ? 'unauthorized' : 'http';
      throw new HubError(`${label}: HTTP ${res.status} ${res.statusText} for ${t.url}`, kind, res.status);
    }
    const etag = res.headers.get('etag') ?? undefined;
    if (tag && etag && normalizeEtag(tag) !== normalizeEtag(etag)) {
      await drop(res);
      await reset();
      throw new HubError(`${label} changed on the server while it was downloading (ETag ${tag} -> ${etag})`, 'changed');
    }
    encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
    if (res.status === 206) {
      const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range')?.trim() ?? '');
      if (encoded || !cr || Number(cr[1]) !== have || Number(cr[3]) !== t.bytes || Number(cr[2]) !== t.bytes - 1) {
        // Not the range asked for (or another size): start over without Range.
        await drop(res);
        await reset();
        await fail(`${t.url} answered bytes=${have}- with Content-Range ${JSON.stringify(res.headers.get('content-range'))}`);
        continue;
      }
    } else {
      if (have > 0) await reset(); // Range ignored: this is the whole file, from byte 0
      const len = res.headers.get('content-length');
      if (len !== null && !encoded && Number(len) !== t.bytes) {
        await drop(res);
        throw new HubError(`${label}: the server sends ${len} bytes, but the file has ${t.bytes}`, 'integrity');
      }
    }
    tag ??= etag;
    if (!res.body) throw new HubError(`${label}: ${t.url} answered without a body`, 'not-hub');

    // Stream into part-sized buffers; whatever arrived before an error is stored too.
    const reader = res.body.getReader();
    const nextBuf = () => new Uint8Array(encoded ? partBytes : Math.max(1, Math.min(partBytes, t.bytes - have)));
    let buf = nextBuf();
    let fill = 0;
    const flush = async () => {
      if (fill === 0) return;
      try {
        await o.cache.putPart(t.key, index, buf.subarray(0, fill), tag);
      } catch (e) {
        if (isQuotaExceeded(e)) throw await quotaErrorAfterPut(o.cache, t.bytes - have + fill, label);
        throw e;
      }
      index++;
      fill = 0;
    };
    let got = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (o.signal?.aborted) throw abortError(o.signal);
        if (!encoded && have + value.length > t.bytes) {
          throw new HubError(`${label}: the server sent more than the ${t.bytes} bytes of the file`, 'integrity');
        }
        for (let at = 0; at < value.length; ) {
          if (fill === buf.length) {
            await flush();
            buf = nextBuf();
          }
          const n = Math.min(buf.length - fill, value.length - at);
          buf.set(value.subarray(at, at + n), fill);
          [fill, at, have, got, received] = [fill + n, at + n, have + n, got + n, received + n];
        }
        emit(false);
      }
    } catch (e) {
      if (e instanceof HubError && e.kind === 'integrity') {
        await reader.cancel().catch(() => undefined);
        throw e;
      }
      await flush();
      if (o.signal?.aborted) {
        await reader.cancel().catch(() => undefined);
        throw abortError(o.signal);
      }
      if (encoded) await reset(); // an encoded body cannot be resumed by byte offset
      if (got > 0) failures = 0;
      await fail(`connection lost after ${have} of ${t.bytes} bytes: ${(e as Error).message}`);
      continue;
    }
    await flush();
    if (encoded) ended = true;
    else if (have < t.bytes) {
      if (got > 0) failures = 0;
      await fail(`the response ended after ${have} of ${t.bytes} bytes`);
    }
  }
  emit(true);
  return { received, bytes: have, encoded };
}
