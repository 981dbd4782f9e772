// Vite serves the editor; shaders/ and models/ are read as static files by the engine at run time.
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/** Models the app ships at <base>models/<name>/: the bundled test model, without its 20 MB of test goldens. */
const BUNDLED_MODELS: Record<string, string> = { 'tiny-ip2p': 'models/tiny-ip2p' };
const SKIP_DIRS = new Set(['golden']);

/** Paths (with '/') of the files a bundled model ships. */
function shippedFiles(dir: string, sub = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
    const rel = sub ? `${sub}/${e.name}` : e.name;
    if (e.isDirectory() && !SKIP_DIRS.has(e.name)) out.push(...shippedFiles(dir, rel));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

const TYPES: Record<string, string> = { json: 'application/json', txt: 'text/plain; charset=utf-8' };

/** GET/HEAD with single byte ranges (the weights are read by HTTP Range); 404 for anything not shipped. */
function serveFile(req: IncomingMessage, res: ServerResponse, file: string): void {
  const size = statSync(file).size;
  res.setHeader('Content-Type', TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream');
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Cache-Control', 'no-cache');
  let start = 0;
  let end = size - 1;
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] || m[2])) {
      start = m[1] ? Number(m[1]) : Math.max(0, size - Number(m[2]));
      end = m[1] && m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    }
    if (!m || (!m[1] && !m[2]) || start > end || start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.statusCode = 206;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  res.setHeader('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD' || end < start) {
    res.end();
    return;
  }
  createReadStream(file, { start, end }).pipe(res);
}

function bundledModels(): Plugin {
  let base = '/';
  let root = '.';
  const dirOf = (name: string) => join(root, BUNDLED_MODELS[name]);
  return {
    name: 'retouch-bundled-models',
    configResolved(config) {
      base = config.base;
      root = config.root;
    },
    // Dev (and the browser tests): answer <base>models/<name>/... before Vite's own static files, which would
    // also serve golden/ and answer a missing file with index.html.
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent((req.url ?? '').split('?')[0]);
        const m = path.startsWith(`${base}models/`) ? /^([^/]+)\/(.+)$/.exec(path.slice(base.length + 'models/'.length)) : null;
        if (!m || !Object.hasOwn(BUNDLED_MODELS, m[1])) return next();
        const dir = dirOf(m[1]);
        if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405).end();
        if (!shippedFiles(dir).includes(m[2])) return void res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
        serveFile(req, res, join(dir, m[2]));
      });
    },
    // Build: the same files into dist/models/<name>/ (vite preview and any static host then serve them).
    generateBundle() {
      for (const name of Object.keys(BUNDLED_MODELS)) {
        const dir = dirOf(name);
        for (const rel of shippedFiles(dir)) {
          this.emitFile({ type: 'asset', fileName: `models/${name}/${rel}`, source: readFileSync(join(dir, rel)) });
        }
      }
    },
  };
}

export default defineConfig({
  plugins: [react(), bundledModels()],
  worker: { format: 'es' },
  server: { fs: { allow: ['.'] } },
  build: { target: 'es2022' },
});
