// A tiny static file server on 127.0.0.1 with single-range Range support and a request log, so tests can check
// that URL loading fetches only what it needs (and what happens when a server ignores Range).
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';

export interface LoggedRequest {
  method: string;
  path: string;
  range: string | null;
  status: number;
  bytes: number;
}

export interface TestServer {
  url: string;
  requests: LoggedRequest[];
  /** Body bytes sent so far. */
  bytesSent(): number;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** Answer every GET with 200 and the whole file, as servers without Range support do. */
  ignoreRange?: boolean;
  /** Extra in-memory files by URL path (e.g. '/x.safetensors'), served before the folder. */
  files?: Record<string, Uint8Array>;
}

/** Serves `root` (may be null when only `files` are served). */
export async function serveFolder(root: string | null, opts: ServeOptions = {}): Promise<TestServer> {
  const requests: LoggedRequest[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const log: LoggedRequest = { method: req.method ?? '', path, range: req.headers.range ?? null, status: 0, bytes: 0 };
    requests.push(log);
    const send = (status: number, body: Uint8Array, headers: Record<string, string> = {}) => {
      log.status = status;
      log.bytes = req.method === 'HEAD' ? 0 : body.length;
      res.writeHead(status, { 'content-length': String(body.length), 'accept-ranges': 'bytes', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    let data = opts.files?.[path];
    if (!data && root) {
      const rel = normalize(path).replace(/^(\.\.[/\\])+/, '');
      try {
        data = new Uint8Array(await readFile(join(root, rel)));
      } catch {
        data = undefined;
      }
    }
    if (!data) return send(404, new TextEncoder().encode('not found'));
    const m = /^bytes=(\d+)-(\d*)$/.exec(log.range ?? '');
    if (!m || opts.ignoreRange || req.method !== 'GET') return send(200, data);
    const start = Number(m[1]);
    const last = m[2] === '' ? data.length - 1 : Math.min(Number(m[2]), data.length - 1);
    if (start >= data.length) return send(416, new Uint8Array(0), { 'content-range': `bytes */${data.length}` });
    send(206, data.subarray(start, last + 1), { 'content-range': `bytes ${start}-${last}/${data.length}` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('test server has no port');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    bytesSent: () => requests.reduce((a, r) => a + r.bytes, 0),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
