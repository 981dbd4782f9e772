// Where a pipeline folder's files come from: a Node directory (CLI, tests), the files of a picked or dropped folder
// (browser), or a base URL (a static server or a Hugging Face "resolve" URL). The loader sees only FileSource.
import { SafetensorsFile } from './safetensors.ts';

/** Paths are relative to the pipeline folder, with '/' separators (e.g. 'unet/config.json'). */
export interface FileSource {
  readonly name: string;
  readText(path: string): Promise<string>;
  exists(path: string): Promise<boolean>;
  openSafetensors(path: string): Promise<SafetensorsFile>;
}

export class SourceError extends Error {
  override name = 'SourceError';
}

/** A directory read with node:fs (imported on first use, so this module stays browser-safe). */
export function nodeFolderSource(dir: string): FileSource {
  const fs = () => import('node:fs');
  const join = (p: string) => `${dir.replace(/\/+$/, '')}/${p}`;
  return {
    name: dir,
    async readText(path) {
      try {
        return await (await fs()).promises.readFile(join(path), 'utf8');
      } catch (e) {
        throw new SourceError(`${join(path)}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    },
    async exists(path) {
      try {
        return (await (await fs()).promises.stat(join(path))).isFile();
      } catch {
        return false;
      }
    },
    async openSafetensors(path) {
      // openAsBlob reads slices from the file on demand: the 1.7 GB UNet is never read whole into one buffer.
      let blob: Blob;
      try {
        blob = await (await fs()).openAsBlob(join(path));
      } catch (e) {
        throw new SourceError(`${join(path)}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      return SafetensorsFile.fromBlob(blob, join(path));
    },
  };
}

/** What <input webkitdirectory> or a folder drop gives: File objects with their path inside the picked folder. */
export type PickedFile = Blob & { readonly name: string; readonly webkitRelativePath?: string };

/** The picked files of one folder. Paths are taken relative to the folder that holds model_index.json (so picking
 * a parent folder works too); without one, the top folder name is stripped. */
export function fileListSource(files: readonly PickedFile[], name?: string): FileSource {
  const full = files.map((f) => ({ f, path: (f.webkitRelativePath || f.name).replace(/^\/+/, '') }));
  const index = full
    .filter((e) => e.path === 'model_index.json' || e.path.endsWith('/model_index.json'))
    .sort((a, b) => a.path.length - b.path.length)[0];
  const root = index ? index.path.slice(0, -'model_index.json'.length) : (full[0]?.path.match(/^[^/]*\//)?.[0] ?? '');
  const byPath = new Map<string, Blob>();
  for (const e of full) if (e.path.startsWith(root)) byPath.set(e.path.slice(root.length), e.f);
  const label = name ?? (root.replace(/\/$/, '') || 'picked files');
  const get = (path: string): Blob => {
    const f = byPath.get(path);
    if (!f) throw new SourceError(`${label}/${path}: not among the picked files`);
    return f;
  };
  return {
    name: label,
    readText: async (path) => get(path).text(),
    exists: async (path) => byPath.has(path),
    openSafetensors: (path) => SafetensorsFile.fromBlob(get(path), `${label}/${path}`),
  };
}

/** Files under a base URL: baseUrl + '/unet/config.json' and so on; weights by HTTP Range. */
export function urlSource(baseUrl: string, fetchFn: typeof fetch = globalThis.fetch.bind(globalThis)): FileSource {
  const base = baseUrl.replace(/\/+$/, '');
  const url = (p: string) => `${base}/${p.split('/').map(encodeURIComponent).join('/')}`;
  return {
    name: base,
    async readText(path) {
      let res: Response;
      try {
        res = await fetchFn(url(path));
      } catch (e) {
        throw new SourceError(`${url(path)}: fetch failed (${(e as Error).message})`);
      }
      if (!res.ok) throw new SourceError(`${url(path)}: HTTP ${res.status} ${res.statusText}`);
      return res.text();
    },
    async exists(path) {
      try {
        const res = await fetchFn(url(path), { method: 'HEAD' });
        return res.ok;
      } catch {
        return false;
      }
    },
    openSafetensors: (path) => SafetensorsFile.fromUrl(url(path), { fetch: fetchFn, fileName: `${base}/${path}` }),
  };
}
