// Turns a ModelSource (what the page asks for, checked here since it comes off a message) into the FileSource the
// loader reads, plus what the UI shows about it. Hub repos download into the model cache (engine/weights/hub.ts);
// their weight headers are read by HTTP Range for the plan, so the adapter is checked before any download.
import type { ModelCache } from '../engine/weights/cache.ts';
import { fileListSource, urlSource, type FileSource, type PickedFile } from '../engine/weights/diffusers.ts';
import { hubSource, planDownload, type DownloadPlan, type HubProgress, type HubSource } from '../engine/weights/hub.ts';
import { SafetensorsFile } from '../engine/weights/safetensors.ts';
import { EngineError, type ModelSource } from './protocol.ts';

export interface ResolvedSource {
  /** What the loader reads. */
  source: FileSource;
  /** What the plan reads (configs and weight headers): for a Hub repo, headers by HTTP Range, not whole files. */
  planSource: FileSource;
  id: string;
  label: string;
  randomWeights: boolean;
  variant: 'fp16' | 'fp32' | 'auto';
  /** How the weight bytes arrive when the loader reads them: over the network, or from local files/the cache. */
  stage: 'download' | 'read';
  /** The Hub's own plan (sizes, what the cache holds), for hub sources. */
  hubPlan?: () => Promise<DownloadPlan>;
  /** For plain HTTP sources: fails with 'download' when the server cannot be reached at all (the loader would
   * only see "no model_index.json" there). */
  probe?: () => Promise<void>;
}

/** One GET of model_index.json: network and CORS failures become 'download'; HTTP answers are left to the loader. */
function httpProbe(source: FileSource, label: string): () => Promise<void> {
  return async () => {
    try {
      await source.readText('model_index.json');
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/HTTP [1-4]\d\d/.test(msg)) return;
      throw new EngineError('download', `Cannot reach ${label}: offline, or the server does not let this site read it (CORS).`, msg);
    }
  };
}

export interface SourceDeps {
  fetch?: typeof fetch;
  /** Where downloads are kept (hub sources). */
  cache?: ModelCache;
  /** The bundled model as a FileSource (default: the app's /models/<name> over HTTP, see bundledUrl). */
  bundled?: (name: string) => FileSource;
  /** Base URL of bundled models (default '/models/' against the worker's location). */
  bundledBase?: string;
  /** Hub download progress while the loader reads a hub source. */
  onHubProgress?: (p: HubProgress) => void;
  signal?: AbortSignal;
}

export const BUNDLED = ['tiny-ip2p'] as const;

function bad(message: string): EngineError {
  return new EngineError('bad-request', message);
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw bad(`model source: ${what} must be a non-empty string`);
  return v;
}

function fetchOf(deps: SourceDeps): typeof fetch {
  return deps.fetch ?? globalThis.fetch.bind(globalThis);
}

/** A FileSource that reads configs through `texts` and weight headers by Range from the file URLs of a Hub plan
 * (or from the cache, for files it holds whole: the header only, unverified; the load checks the whole file). */
function hubPlanSource(texts: HubSource, plan: DownloadPlan, fetchFn: typeof fetch): FileSource {
  const byPath = new Map(plan.files.map((f) => [f.path, f]));
  return {
    name: texts.name,
    readText: (path) => texts.readText(path),
    exists: async (path) => (byPath.has(path) ? true : texts.exists(path)),
    async openSafetensors(path) {
      const f = byPath.get(path);
      const fileName = `${texts.name}/${path}`;
      if (f && f.cachedBytes < f.bytes) return SafetensorsFile.fromUrl(f.url, { fetch: fetchFn, fileName });
      const blob = f ? await texts.cachedFile(path) : null;
      if (blob) {
        // A damaged header falls through to the verified read below, which fetches the file again.
        const st = await SafetensorsFile.fromBlob(blob, fileName).catch(() => null);
        if (st) return st;
      }
      return texts.openSafetensors(path);
    },
  };
}

/** A short, stable name for a URL: host and path without the scheme. */
function urlLabel(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`.replace(/\/+$/, '');
  } catch {
    return url;
  }
}

export function resolveSource(src: ModelSource, deps: SourceDeps = {}): ResolvedSource {
  if (typeof src !== 'object' || src === null) throw bad('model source: expected an object');
  switch (src.kind) {
    case 'bundled': {
      if (!(BUNDLED as readonly string[]).includes(src.name)) throw bad(`no bundled model ${JSON.stringify(src.name)} (have: ${BUNDLED.join(', ')})`);
      const base = deps.bundledBase ?? new URL('/models/', globalThis.location?.href ?? 'http://localhost/').href;
      const source = deps.bundled?.(src.name) ?? urlSource(new URL(`${src.name}`, base.endsWith('/') ? base : `${base}/`).href, fetchOf(deps));
      return {
        source,
        planSource: source,
        id: `bundled:${src.name}`,
        label: `${src.name} (bundled test model, random weights)`,
        randomWeights: true,
        variant: 'auto',
        stage: deps.bundled ? 'read' : 'download',
        probe: deps.bundled ? undefined : httpProbe(source, src.name),
      };
    }
    case 'url': {
      const url = str(src.url, 'url');
      if (!/^https?:\/\//i.test(url) && !url.startsWith('/')) throw bad(`model URL must be http(s): ${JSON.stringify(url)}`);
      const variant = src.variant ?? 'auto';
      if (!['fp16', 'fp32', 'auto'].includes(variant)) throw bad(`model source: variant must be fp16, fp32 or auto`);
      const abs = new URL(url, globalThis.location?.href ?? 'http://localhost/').href;
      const source = urlSource(abs, fetchOf(deps));
      const label = urlLabel(abs);
      return { source, planSource: source, id: `url:${abs}`, label, randomWeights: false, variant, stage: 'download', probe: httpProbe(source, label) };
    }
    case 'files': {
      const files = src.files;
      if (!Array.isArray(files) || files.length === 0) throw bad('model source: no files were picked');
      if (!files.every((f) => f instanceof Blob)) throw bad('model source: files must be File objects');
      const source = fileListSource(files as PickedFile[]);
      return { source, planSource: source, id: `files:${source.name}`, label: source.name, randomWeights: false, variant: 'auto', stage: 'read' };
    }
    case 'hub': {
      const repo = str(src.repo, 'repo');
      const revision = str(src.revision, 'revision');
      const baseUrl = str(src.baseUrl, 'baseUrl');
      if (src.variant !== 'fp16' && src.variant !== 'fp32') throw bad('model source: a Hub variant must be fp16 or fp32');
      const common = { revision, baseUrl, variant: src.variant, fetch: deps.fetch, cache: deps.cache, signal: deps.signal };
      const source = hubSource(repo, { ...common, onProgress: deps.onHubProgress });
      const plan = () => planDownload(repo, common);
      let planned: Promise<FileSource> | null = null;
      const lazy = () => (planned ??= plan().then((p) => hubPlanSource(source, p, fetchOf(deps))));
      const planSource: FileSource = {
        name: source.name,
        readText: async (p) => (await lazy()).readText(p),
        exists: async (p) => (await lazy()).exists(p),
        openSafetensors: async (p) => (await lazy()).openSafetensors(p),
      };
      const host = urlLabel(baseUrl);
      const where = host === 'huggingface.co' ? '' : ` on ${host}`;
      return {
        source,
        planSource,
        id: `hub:${baseUrl.replace(/\/+$/, '')}/${repo}@${revision}:${src.variant}`,
        label: `${repo}${revision === 'main' ? '' : `@${revision}`} (${src.variant})${where}`,
        randomWeights: false,
        variant: src.variant,
        stage: 'download',
        hubPlan: plan,
      };
    }
    default:
      throw bad(`model source: unknown kind ${JSON.stringify((src as { kind?: unknown }).kind)}`);
  }
}
