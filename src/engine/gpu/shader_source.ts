// WGSL sources from shaders/: bundled by Vite (page, worker, Vitest) through import.meta.glob; read from disk
// when the engine runs under plain Node (the CLI through tsx), where import.meta.glob does not exist.

type GlobFn = (p: string, o: object) => Record<string, string>;
const glob = (import.meta as unknown as { glob?: GlobFn }).glob;
const bundled: Record<string, string> =
  typeof glob === 'function'
    ? import.meta.glob('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true })
    : {};

const byName = new Map<string, string>();
for (const [path, src] of Object.entries(bundled)) byName.set(path.replace(/^.*\//, '').replace(/\.wgsl$/, ''), src);

export async function loadShader(name: string): Promise<string> {
  const hit = byName.get(name);
  if (hit !== undefined) return hit;
  const { readFile } = await import(/* @vite-ignore */ 'node:fs/promises' as string);
  const url = new URL(`../../../shaders/${name}.wgsl`, import.meta.url);
  let src: string;
  try {
    src = await readFile(url, 'utf8');
  } catch {
    throw new Error(`shader '${name}' not found (looked for shaders/${name}.wgsl)`);
  }
  byName.set(name, src);
  return src;
}

export function shaderNames(): string[] {
  return [...byName.keys()];
}
