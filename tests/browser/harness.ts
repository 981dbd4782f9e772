// Browser tests drive the system Chromium (real WebGPU, SwiftShader on CPU) through Playwright against a Vite dev
// server started in the test process. One harness per test file: one Vite server, one browser launch.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, mergeConfig, type InlineConfig, type Plugin, type ViteDevServer } from 'vite';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const RUN_PAGE = '/tests/browser/pages/run.html';

/** Where screenshots go: test-results/ at the repo root (git-ignored). */
export function artifactPath(name: string): string {
  return join(ROOT, 'test-results', name);
}

/** What the `adapter` suite reports (tests/browser/suites/adapter.ts). */
export interface AdapterReport {
  realm: 'window' | 'worker';
  description: string;
  info: { vendor: string; architecture: string; device: string; description: string };
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  deviceFeatures: string[];
  limits: Record<string, number>;
}

export interface PageOptions {
  /** 'missing': navigator.gpu is undefined; 'no-adapter': requestAdapter() resolves null (Chromium's answer
   * without --enable-unsafe-webgpu on Linux). Applied by an init script before any page code runs. */
  webgpu?: 'real' | 'missing' | 'no-adapter';
  viewport?: { width: number; height: number };
}

export interface BrowserHarness {
  baseUrl: string;
  browser: Browser;
  /** The adapter Chromium gives the engine (logged once as `[chromium webgpu] ...`). */
  adapter: AdapterReport;
  /** Opens `path` (relative to the repo root as Vite serves it) in a fresh context; page errors are logged. */
  newPage(path?: string, opts?: PageOptions): Promise<Page>;
  /** Runs tests/browser/suites/<suite>.ts in the run page (shared, opened on first use) or in its module worker. */
  run<T = unknown>(suite: string, args?: unknown, opts?: { worker?: boolean }): Promise<T>;
  close(): Promise<void>;
}

export function chromiumPath(): string {
  const path = process.env.RETOUCH_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `Chromium not found at ${path}. Browser tests need a system Chromium with WebGPU: \`apt-get install chromium\` ` +
        '(Debian/Ubuntu), or point RETOUCH_CHROMIUM at a Chromium/Chrome binary.',
    );
  }
  return path;
}

// Playwright adds its own automation switches; these are the ones WebGPU on a headless root session needs.
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const INIT_SCRIPTS: Record<'missing' | 'no-adapter', () => void> = {
  missing: () => {
    Object.defineProperty(Navigator.prototype, 'gpu', { configurable: true, get: () => undefined });
  },
  'no-adapter': () => {
    if (typeof GPU !== 'undefined') GPU.prototype.requestAdapter = () => Promise.resolve(null);
  },
};

/** Completes a WebSocket handshake and then ignores the socket: Vite's HMR client sees an open, silent server. */
function acceptSilently(req: IncomingMessage, socket: Duplex): void {
  const key = req.headers['sec-websocket-key'];
  socket.on('error', () => {});
  if (typeof key !== 'string') return void socket.destroy();
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  const proto = req.headers['sec-websocket-protocol']?.split(',')[0].trim();
  socket.on('data', () => {}); // the client's pings go unanswered, which it accepts
  socket.write(
    ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`]
      .concat(proto ? [`Sec-WebSocket-Protocol: ${proto}`] : [], ['', ''])
      .join('\r\n'),
  );
}

/** Vite's HMR client also runs inside module workers (the pre-bundled tokenizer dependency imports a helper from
 * it), where Playwright's routeWebSocket does not reach. With hmr off, middleware mode points that client at port
 * 24678, where nothing listens: it logs "failed to connect to websocket" and throws inside the engine worker. This
 * points it at the test server instead, which answers every WebSocket with a silent one (acceptSilently). */
function hmrClientToPort(port: number): Plugin {
  return {
    name: 'retouch-test-hmr-client-port',
    enforce: 'pre',
    transform(code, id) {
      if (!/\/vite\/dist\/client\/client\.mjs$/.test(id.split('?')[0])) return null;
      if (!code.includes('__HMR_PORT__')) throw new Error('harness: Vite\'s client no longer has __HMR_PORT__; update hmrClientToPort');
      return code.replace('__HMR_PORT__', String(port));
    },
  };
}

export interface HarnessOptions {
  /** Extra Vite config (plugins, define), merged over vite.config.ts and the harness's server settings. */
  vite?: InlineConfig;
}

export async function startBrowserHarness(opts: HarnessOptions = {}): Promise<BrowserHarness> {
  const executablePath = chromiumPath();
  // A private dep-optimizer cache, since test files run in parallel and must not race on node_modules/.vite. It
  // stays under node_modules/ so that plugin-react leaves the pre-bundled deps alone (it skips node_modules).
  await mkdir(join(ROOT, 'node_modules/.vite'), { recursive: true });
  const cacheDir = await mkdtemp(join(ROOT, 'node_modules/.vite/browser-test-'));
  let server: ViteDevServer | null = null;
  let browser: Browser | null = null;
  let http: Server | null = null;
  const sockets = new Set<Duplex>();
  const close = async () => {
    await browser?.close().catch(() => {});
    browser = null;
    for (const s of sockets) s.destroy();
    if (http) await new Promise((ok) => http!.close(ok));
    http = null;
    await server?.close().catch(() => {});
    server = null;
    await rm(cacheDir, { recursive: true, force: true });
  };
  try {
    // Vite in middleware mode on our own HTTP server on a free port (Vite itself reads port 0 as "5173"). No HMR:
    // a reload pushed mid-test (dep re-optimization, a lost socket) would wipe the page under a running suite.
    let handle: RequestListener = (_req, res) => res.writeHead(503).end();
    http = createHttpServer((req, res) => handle(req, res));
    http.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      sockets.add(socket.once('close', () => sockets.delete(socket)));
      acceptSilently(req, socket);
    });
    await new Promise<void>((ok, fail) => http!.once('error', fail).listen(0, '127.0.0.1', ok));
    const addr = http.address();
    if (!addr || typeof addr === 'string') throw new Error('test HTTP server has no TCP address');
    server = await createServer(
      mergeConfig(
        {
          root: ROOT,
          configFile: join(ROOT, 'vite.config.ts'),
          cacheDir,
          logLevel: 'warn',
          clearScreen: false,
          appType: 'mpa',
          server: { middlewareMode: true, hmr: false, ws: false, watch: null },
          plugins: [hmrClientToPort(addr.port)],
        } satisfies InlineConfig,
        opts.vite ?? {},
      ),
    );
    handle = server.middlewares;
    const baseUrl = `http://127.0.0.1:${addr.port}`;

    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    const b = browser;

    const newPage = async (path = '/', opts: PageOptions = {}): Promise<Page> => {
      const context = await b.newContext({ viewport: opts.viewport ?? { width: 1280, height: 800 } });
      const mode = opts.webgpu ?? 'real';
      if (mode !== 'real') await context.addInitScript(INIT_SCRIPTS[mode]);
      // Vite still injects its HMR client: answer its socket here (open, silent) so it neither errors nor reloads.
      // (Workers' sockets bypass this route and reach the test server, which answers the same way.)
      await context.routeWebSocket(/./, () => {});
      const page = await context.newPage();
      page.setDefaultTimeout(60_000);
      page.on('pageerror', (e) => console.log(`[page exception] ${path}: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') console.log(`[page ${m.type()}] ${path}: ${m.text()}`);
      });
      page.on('close', () => void context.close().catch(() => {}));
      let loads = 0;
      page.on('load', () => {
        if (++loads > 1) console.log(`[harness] ${path} reloaded (load #${loads}): a running suite would be lost`);
      });
      await page.goto(baseUrl + path);
      return page;
    };

    let runPage: Promise<Page> | null = null;
    const run = async <T,>(suite: string, args?: unknown, opts: { worker?: boolean } = {}): Promise<T> => {
      runPage ??= newPage(RUN_PAGE).then(async (p) => {
        await p.waitForFunction(() => window.__retouch !== undefined);
        return p;
      });
      const page = await runPage;
      const worker = opts.worker ?? false;
      return (await page.evaluate(
        ({ suite, args, worker }) => (worker ? window.__retouch!.runInWorker(suite, args) : window.__retouch!.run(suite, args)),
        { suite, args, worker },
      )) as T;
    };

    let adapter: AdapterReport;
    try {
      adapter = await run<AdapterReport>('adapter');
    } catch (e) {
      throw new Error(
        `Chromium (${executablePath}) gave no WebGPU device: ${(e as Error).message}\n` +
          `It was launched with ${CHROMIUM_ARGS.join(' ')}; Debian's chromium package provides SwiftShader for this.`,
      );
    }
    console.log(`[chromium webgpu] ${b.version()}: ${adapter.description}`);

    return { baseUrl, browser: b, adapter, newPage, run, close };
  } catch (e) {
    await close();
    throw e;
  }
}
