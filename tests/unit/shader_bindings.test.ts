// One source of truth between WGSL and TypeScript: every shader's bindings and Params struct are parsed from the
// .wgsl text and compared with the KernelSpec its wrapper exports (names, order, access, field types).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { KernelSpec } from '../../src/engine/gpu/kernel.ts';

const wrappers = import.meta.glob('../../src/engine/ops/webgpu/*.ts', { eager: true }) as Record<string, Record<string, unknown>>;

function isSpec(v: unknown): v is KernelSpec {
  return !!v && typeof v === 'object' && typeof (v as KernelSpec).shader === 'string' && Array.isArray((v as KernelSpec).bindings);
}

const specs: KernelSpec[] = [];
for (const mod of Object.values(wrappers)) for (const v of Object.values(mod)) if (isSpec(v)) specs.push(v);

interface ParsedBinding {
  binding: number;
  kind: 'storage' | 'uniform';
  access: string;
  name: string;
  type: string;
}

function parseShader(src: string): { bindings: ParsedBinding[]; params: [string, string][] } {
  const code = src.replace(/\/\/.*$/gm, '');
  const bindings: ParsedBinding[] = [];
  const re = /@group\(0\)\s*@binding\((\d+)\)\s*var<(storage|uniform)(?:\s*,\s*(read_write|read))?>\s*(\w+)\s*:\s*([^;]+);/g;
  for (const m of code.matchAll(re)) {
    bindings.push({ binding: +m[1], kind: m[2] as 'storage' | 'uniform', access: m[3] ?? '', name: m[4], type: m[5].trim() });
  }
  bindings.sort((a, b) => a.binding - b.binding);
  const struct = /struct\s+Params\s*\{([^}]*)\}/.exec(code);
  const params: [string, string][] = [];
  if (struct) {
    for (const f of struct[1].split(',')) {
      const m = /(\w+)\s*:\s*(\w+)/.exec(f);
      if (m) params.push([m[1], m[2]]);
    }
  }
  return { bindings, params };
}

const shaderFiles = readdirSync('shaders').filter((f) => f.endsWith('.wgsl'));

describe('WGSL <-> TypeScript kernel specs', () => {
  it('every shader in shaders/ has a wrapper spec', () => {
    const covered = new Set(specs.map((s) => s.shader));
    const orphans = shaderFiles.map((f) => f.replace(/\.wgsl$/, '')).filter((n) => !covered.has(n));
    expect(orphans, 'shaders with no KernelSpec').toEqual([]);
    expect(specs.length).toBeGreaterThan(0);
  });

  for (const spec of specs) {
    it(`${spec.shader}${spec.entry ? `:${spec.entry}` : ''} bindings and Params match`, () => {
      const { bindings, params } = parseShader(readFileSync(`shaders/${spec.shader}.wgsl`, 'utf8'));
      const storage = bindings.filter((b) => b.kind === 'storage');
      // Storage bindings in spec order, numbered 0..n-1, then the Params uniform.
      expect(storage.map((b) => b.name)).toEqual([...spec.bindings]);
      expect(storage.map((b) => b.binding)).toEqual(spec.bindings.map((_, i) => i));
      for (const b of storage) {
        const written = spec.outputs.includes(b.name);
        expect(b.access, `${b.name} access`).toBe(written ? 'read_write' : 'read');
        if (spec.weights?.includes(b.name) || spec.activations?.includes(b.name)) {
          expect(b.type, `${b.name} must be array<${b.name}_t>`).toBe(`array<${b.name}_t>`);
        }
      }
      const uniforms = bindings.filter((b) => b.kind === 'uniform');
      expect(uniforms.length, 'one Params uniform').toBe(1);
      expect(uniforms[0].binding).toBe(spec.bindings.length);
      expect(uniforms[0].type).toBe('Params');
      expect(params).toEqual(spec.params.map(([n, t]) => [n, t]));
    });
  }
});
