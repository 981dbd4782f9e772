// WGSL sources from shaders/: bundled by Vite (page, worker, Vitest) through import.meta.glob; read from disk
// when the engine runs under plain Node (the CLI through tsx), where import.meta.glob does not exist.

// Vite rewrites only a direct `import.meta.glob(...)` call, so it must be written out; under plain Node the call
// throws (import.meta.glob is undefined) and the sources are read from disk on demand below.
let bundled: Record<string, string> = {};
try {
  bundled = import.meta.glob('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });
} catch {
  bundled = {};
}

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
