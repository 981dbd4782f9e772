// From the Model controls (or a ?model= link) to the engine's ModelSource, with a stable key per source so a plan
// or a loaded model can be matched to what is selected now.
import type { ModelSource } from '../../engine.ts';
import { DEFAULT_HUB, DEFAULT_REPO, DEFAULT_REVISION, type ModelChoice, type ModelSlice } from '../model_slice.ts';

export interface ResolvedSource {
  src: ModelSource;
  key: string;
  /** Short words for status lines: "timbrooks/instruct-pix2pix (fp16)". */
  label: string;
  /** Downloads over the network (a plan tells its size first; a click starts it). */
  remote: boolean;
}

type Fields = Pick<ModelSlice, 'modelChoice' | 'hubRepo' | 'hubRevision' | 'hubBaseUrl' | 'hubVariant' | 'modelUrl' | 'folderFiles'>;

/** The source the controls describe, or a sentence saying what is missing. */
export function resolveSource(f: Fields): ResolvedSource | string {
  switch (f.modelChoice) {
    case 'tiny':
      return { src: { kind: 'bundled', name: 'tiny-ip2p' }, key: 'bundled:tiny-ip2p', label: 'tiny-ip2p (random weights)', remote: false };
    case 'default':
      return hub(DEFAULT_REPO, DEFAULT_REVISION, f.hubBaseUrl || DEFAULT_HUB, 'fp16');
    case 'hub': {
      const repo = f.hubRepo.trim();
      if (!/^[\w.-]+\/[\w.-]+$/.test(repo)) return 'Enter a Hub repo id as owner/name, e.g. timbrooks/instruct-pix2pix.';
      return hub(repo, f.hubRevision.trim() || 'main', f.hubBaseUrl.trim() || DEFAULT_HUB, f.hubVariant);
    }
    case 'url': {
      const url = f.modelUrl.trim();
      if (!/^https?:\/\//i.test(url) && !url.startsWith('/')) return 'Enter the address of a diffusers model folder (http:// or https://).';
      return { src: { kind: 'url', url, variant: 'auto' }, key: `url:${url}`, label: url, remote: true };
    }
    case 'folder': {
      const files = f.folderFiles;
      if (!files?.length) return 'Choose the folder that holds model_index.json, unet/, vae/, text_encoder/ and tokenizer/.';
      const root = files[0].webkitRelativePath.split('/')[0] || 'folder';
      const bytes = files.reduce((n, x) => n + x.size, 0);
      return { src: { kind: 'files', files }, key: `files:${root}:${files.length}:${bytes}`, label: `folder “${root}”`, remote: false };
    }
  }
}

function hub(repo: string, revision: string, baseUrl: string, variant: 'fp16' | 'fp32'): ResolvedSource {
  return {
    src: { kind: 'hub', repo, revision, baseUrl: baseUrl.replace(/\/+$/, ''), variant },
    key: `hub:${baseUrl}/${repo}@${revision}:${variant}`,
    label: `${repo}${revision !== 'main' ? `@${revision}` : ''} (${variant})`,
    remote: true,
  };
}

/** ?model=tiny-ip2p | owner/name[@revision] | https://… → the fields to set, or null when the value is unusable. */
export function parseModelQuery(value: string): (Partial<Fields> & { modelChoice: ModelChoice }) | null {
  const v = value.trim();
  if (!v) return null;
  if (v === 'tiny-ip2p' || v === 'tiny') return { modelChoice: 'tiny' };
  if (/^https?:\/\//i.test(v)) return { modelChoice: 'url', modelUrl: v };
  const m = /^([\w.-]+\/[\w.-]+)(?:@([\w./-]+))?$/.exec(v);
  if (m) {
    const [, repo, revision = DEFAULT_REVISION] = m;
    if (repo === DEFAULT_REPO && revision === DEFAULT_REVISION) return { modelChoice: 'default' };
    return { modelChoice: 'hub', hubRepo: repo, hubRevision: revision };
  }
  return null;
}

/** ?hub=http(s)://host[/path] → the Hub base URL without a trailing '/', or null when it is not such a URL. */
export function parseHubQuery(value: string): string | null {
  const v = value.trim();
  if (!/^https?:\/\//i.test(v)) return null;
  try {
    const u = new URL(v);
    return u.search || u.hash ? null : u.href.replace(/\/+$/, '');
  } catch {
    return null;
  }
}
