// A local server on 127.0.0.1 that answers like the Hugging Face Hub for one repo served from a folder: resolve
// URLs, 302 to a content-addressed "CDN" for LFS files, the Hub's headers and error codes, Range and If-Range, the
// tree API, and faults on demand (a response cut after N bytes, 500s, denied access, HTML instead of files).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';

export interface HubRequest {
  method: string;
  /** URL path with query. */
  url: string;
  kind: 'resolve' | 'cdn' | 'api' | 'other';
  /** The repo file the request is about (for CDN requests, the file whose content it serves). */
  file: string | null;
  range: string | null;
  ifRange: string | null;
  status: number;
  /** Body bytes written. */
  bytes: number;
}

export interface FakeHubOptions {
  /** The folder served as the repo. */
  folder: string;
  repo?: string;
  commit?: string;
  /** Paths left out (default: golden/). */
  skip?: (path: string) => boolean;
}

export interface FakeHub {
  url: string;
  repo: string;
  commit: string;
  requests: HubRequest[];
  /** Current content of a repo file. */
  file(path: string): Uint8Array;
  sha256(path: string): string;
  /** Requests whose body carried this file's bytes (GET of a non-LFS resolve URL, or of the CDN blob). */
  transfers(path: string): HubRequest[];
  /** The next GET that sends `path`'s bytes stops after `afterBytes` and closes the connection; then `then()`. */
  cutNext(path: string, afterBytes: number, then?: () => void): void;
  /** The next `count` requests (any) answer `status`. */
  failNext(count: number, status?: number): void;
  /** Every repo request answers `status` with X-Error-Code `code` (null: serve again). */
  deny(status: number | null, code?: string): void;
  /** Replaces a file's content (a new commit): new ETag and sha256; the old CDN blob stays reachable. */
  setFile(path: string, bytes: Uint8Array): void;
  /** Switches: ignore Range (answer 200), CDN ETags that are not sha256 (as S3's MD5), no tree API, HTML for all. */
  options: { ignoreRange: boolean; hideSha: boolean; noApi: boolean; html: boolean };
  close(): Promise<void>;
}

const MAX_LOG = 10_000;
const sha = (algo: string, ...parts: (string | Uint8Array)[]) => {
  const h = createHash(algo);
  for (const p of parts) h.update(p);
  return h.digest('hex');
};
const isLfs = (path: string) => path.endsWith('.safetensors');

export async function startFakeHub(opts: FakeHubOptions): Promise<FakeHub> {
  const repo = opts.repo ?? 'timbrooks/instruct-pix2pix';
  const commit = opts.commit ?? sha('sha1', `fake commit of ${repo}`);
  const skip = opts.skip ?? ((p: string) => p.startsWith('golden/'));
  const files = new Map<string, Uint8Array>();
  const blobs = new Map<string, Uint8Array>(); // CDN: sha256 -> content, every version ever served
  const shas = new Map<string, string>(); // path -> sha256 of its current content
  const put = (path: string, bytes: Uint8Array) => {
    const hex = sha('sha256', bytes);
    files.set(path, bytes);
    blobs.set(hex, bytes);
    shas.set(path, hex);
  };
  for (const rel of readdirSync(opts.folder, { recursive: true, encoding: 'utf8' })) {
    const path = rel.split('\\').join('/');
    if (!skip(path) && statSync(join(opts.folder, rel)).isFile()) put(path, new Uint8Array(readFileSync(join(opts.folder, rel))));
  }
  const pathOfBlob = (hex: string) => [...shas].find(([, h]) => h === hex)?.[0] ?? `blob:${hex}`;
  const requests: HubRequest[] = [];
  const cuts = new Map<string, { after: number; then?: () => void }>();
  let failing = { count: 0, status: 500 };
  let denied: { status: number; code?: string } | null = null;
  const options = { ignoreRange: false, hideSha: false, noApi: false, html: false };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const log: HubRequest = {
      method: req.method ?? '',
      url: u.pathname + u.search,
      kind: 'other',
      file: null,
      range: req.headers.range ?? null,
      ifRange: (req.headers['if-range'] as string | undefined) ?? null,
      status: 0,
      bytes: 0,
    };
    requests.push(log);
    if (requests.length > MAX_LOG) requests.shift();
    const send = (status: number, body: Uint8Array | string = '', headers: Record<string, string> = {}) => {
      const b = typeof body === 'string' ? new TextEncoder().encode(body) : body;
      log.status = status;
      res.writeHead(status, { 'content-length': String(b.length), ...headers });
      if (req.method === 'HEAD') return res.end();
      log.bytes = b.length;
      res.end(b);
    };
    /** A file body with Range/If-Range; cut short when a cut is armed for `path`. */
    const serve = (path: string, data: Uint8Array, etag: string, headers: Record<string, string>) => {
      log.file = path;
      const base: Record<string, string> = { 'accept-ranges': 'bytes', etag, ...headers };
      const total = data.length;
      let status = 200;
      const m = /^bytes=(\d+)-(\d*)$/.exec(log.range ?? '');
      if (m && !options.ignoreRange && (!log.ifRange || log.ifRange === etag)) {
        const start = Number(m[1]);
        if (start >= total) return send(416, '', { ...base, 'content-range': `bytes */${total}` });
        const last = m[2] === '' ? total - 1 : Math.min(Number(m[2]), total - 1);
        status = 206;
        data = data.subarray(start, last + 1);
        base['content-range'] = `bytes ${start}-${last}/${total}`;
      }
      const cut = req.method === 'GET' ? cuts.get(path) : undefined;
      if (!cut || cut.after >= data.length) return send(status, data, base);
      cuts.delete(path);
      log.status = status;
      log.bytes = cut.after;
      res.writeHead(status, { 'content-length': String(data.length), ...base });
      res.write(data.subarray(0, cut.after), () => {
        res.socket?.destroySoon();
        cut.then?.();
      });
    };

    if (options.html) {
      log.status = 200;
      return send(200, '<!doctype html><html><body>Welcome</body></html>', { 'content-type': 'text/html; charset=utf-8' });
    }
    if (failing.count > 0) {
      failing.count--;
      return send(failing.status, 'injected failure', { 'content-type': 'text/plain' });
    }
    const notFound = (code: string, message: string, status = 404) =>
      send(status, JSON.stringify({ error: message }), { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': message });

    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(u.pathname);
    if (cdn) {
      log.kind = 'cdn';
      const data = blobs.get(cdn[1]);
      if (!data) return send(404, 'NoSuchKey');
      const etag = options.hideSha ? `"${sha('md5', data)}"` : `"${cdn[1]}"`;
      return serve(pathOfBlob(cdn[1]), data, etag, { 'content-type': 'application/octet-stream' });
    }
    const seg = u.pathname.split('/').slice(1).map(decodeURIComponent);
    const isApi = seg[0] === 'api' && seg[1] === 'models' && seg[4] === 'tree';
    const isResolve = seg[2] === 'resolve' && seg.length >= 5;
    if (!isApi && !isResolve) return send(404, 'not found');
    log.kind = isApi ? 'api' : 'resolve';
    const repoId = isApi ? `${seg[2]}/${seg[3]}` : `${seg[0]}/${seg[1]}`;
    const revision = isApi ? seg[5] : seg[3];
    const path = (isApi ? seg.slice(6) : seg.slice(4)).join('/');
    if (repoId !== repo) return notFound('RepositoryNotFound', 'Repository not found', 401);
    if (denied) {
      const msg = denied.code === 'GatedRepo' ? `Access to model ${repo} is restricted.` : 'Unauthorized';
      return notFound(denied.code ?? 'Unauthorized', msg, denied.status);
    }
    if (revision !== 'main' && revision !== commit) return notFound('RevisionNotFound', 'Invalid rev id');
    const hub = { 'x-repo-commit': commit };
    if (isApi) {
      if (options.noApi) return send(404, 'not found');
      const dir = path ? `${path}/` : '';
      const entries = [...files].filter(([p]) => p.startsWith(dir) && !p.slice(dir.length).includes('/'));
      const list = entries.map(([p, b]) => ({
        type: 'file',
        oid: sha('sha1', `blob ${b.length}\0`, b),
        size: b.length,
        path: p,
        ...(isLfs(p) ? { lfs: { oid: sha('sha256', b), size: b.length, pointerSize: 134 } } : {}),
      }));
      return send(200, JSON.stringify(list), { 'content-type': 'application/json', ...hub });
    }
    const data = files.get(path);
    if (!data) return notFound('EntryNotFound', `${path} does not exist on "${revision}"`);
    if (isLfs(path)) {
      log.file = path;
      const hex = shas.get(path)!;
      return send(302, '', {
        location: `/cdn/${hex}`,
        etag: `"${hex}"`,
        'x-linked-etag': `"${hex}"`,
        'x-linked-size': String(data.length),
        ...hub,
      });
    }
    const type = path.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8';
    return serve(path, data, `"${sha('sha1', `blob ${data.length}\0`, data)}"`, { 'content-type': type, ...hub });
  };

  const server = createServer(handle);
  server.maxConnections = 64;
  server.setTimeout(30_000);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('fake hub has no port');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    repo,
    commit,
    requests,
    file: (path) => {
      const f = files.get(path);
      if (!f) throw new Error(`fake hub: no file ${path}`);
      return f;
    },
    sha256: (path) => {
      const h = shas.get(path);
      if (!h) throw new Error(`fake hub: no file ${path}`);
      return h;
    },
    transfers: (path) => requests.filter((r) => r.file === path && r.method === 'GET' && r.status !== 302),
    cutNext: (path, afterBytes, then) => void cuts.set(path, { after: afterBytes, then }),
    failNext: (count, status = 500) => void (failing = { count, status }),
    deny: (status, code) => void (denied = status === null ? null : { status, code }),
    setFile: put,
    options,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
