// A kernel = one WGSL file in shaders/ plus the facts its TypeScript wrapper must agree with: storage bindings in
// order (inputs, then outputs), then a `Params` uniform as the last binding, and the Params fields in order.
// tests/unit/shader_bindings.test.ts parses every shader and checks it against its spec.
//
// Bindings named in `weights` may hold f16 data. The shader declares them as `array<NAME_t>` and reads them with
// `NAME_at(i) -> f32`; the prelude built here defines both for the tensor's actual storage:
//   f32 storage                 -> alias NAME_t = f32, NAME_at returns NAME[i]
//   f16 with shader-f16         -> alias NAME_t = f16, NAME_at returns f32(NAME[i])
//   f16 without shader-f16      -> alias NAME_t = u32 (two halves per word), NAME_at unpacks with unpack2x16float
//
// Bindings named in `activations` hold activation tensors whose storage is f32, or f16 where the device has
// shader-f16 (GpuRuntime.activationDtype). They are declared `array<NAME_t>`; inputs are read with NAME_at(i) and
// outputs written with NAME_put(i, v: f32). Arithmetic stays f32 in registers and workgroup memory either way.

export type ParamType = 'u32' | 'i32' | 'f32';

export interface KernelSpec {
  /** shaders/<shader>.wgsl */
  readonly shader: string;
  /** Storage buffer binding names in binding order; the Params uniform follows as binding bindings.length. */
  readonly bindings: readonly string[];
  /** The bindings the kernel writes (declared read_write). */
  readonly outputs: readonly string[];
  /** Bindings whose storage may be f16 (read through NAME_at). */
  readonly weights?: readonly string[];
  /** Activation bindings (f32 or native f16): read through NAME_at, outputs written through NAME_put. */
  readonly activations?: readonly string[];
  /** Params struct fields, in order. */
  readonly params: readonly (readonly [string, ParamType])[];
  /** Workgroup size override name(s) and defaults, set from TS. */
  readonly workgroupSize?: number;
  readonly entry?: string;
}

export type StorageKind = 'f32' | 'f16' | 'f16packed';

/** The bindings whose element type the prelude defines, in binding order. */
export function typedBindings(spec: KernelSpec): string[] {
  return spec.bindings.filter((b) => spec.weights?.includes(b) || spec.activations?.includes(b));
}

export function weightPrelude(spec: KernelSpec, kinds: Readonly<Record<string, StorageKind>>): string {
  const lines: string[] = [];
  let enableF16 = false;
  for (const name of typedBindings(spec)) {
    const kind = kinds[name] ?? 'f32';
    const output = spec.outputs.includes(name);
    if (kind === 'f16packed' && (output || !spec.weights?.includes(name))) {
      throw new Error(`${spec.shader}: binding '${name}' cannot be packed f16 (only read-only weights can)`);
    }
    if (kind === 'f32') {
      lines.push(`alias ${name}_t = f32;`, `fn ${name}_at(i: u32) -> f32 { return ${name}[i]; }`);
      if (output) lines.push(`fn ${name}_put(i: u32, v: f32) { ${name}[i] = v; }`);
    } else if (kind === 'f16') {
      enableF16 = true;
      lines.push(`alias ${name}_t = f16;`, `fn ${name}_at(i: u32) -> f32 { return f32(${name}[i]); }`);
      if (output) lines.push(`fn ${name}_put(i: u32, v: f32) { ${name}[i] = f16(v); }`);
    } else {
      lines.push(
        `alias ${name}_t = u32;`,
        `fn ${name}_at(i: u32) -> f32 { let p = unpack2x16float(${name}[i >> 1u]); return select(p.x, p.y, (i & 1u) == 1u); }`,
      );
    }
  }
  return (enableF16 ? 'enable f16;\n' : '') + lines.join('\n') + '\n';
}

/** Packs a Params struct of 4-byte scalars (uniform layout: 4-byte aligned, size rounded up to 16). */
export function packParams(spec: KernelSpec, values: Readonly<Record<string, number>>): ArrayBuffer {
  const n = spec.params.length;
  const buf = new ArrayBuffer(Math.max(16, Math.ceil((n * 4) / 16) * 16));
  const dv = new DataView(buf);
  spec.params.forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined || Number.isNaN(v)) throw new Error(`${spec.shader}: param '${name}' missing`);
    if (type === 'f32') dv.setFloat32(i * 4, v, true);
    else if (type === 'u32') {
      if (v < 0 || !Number.isInteger(v)) throw new Error(`${spec.shader}: param '${name}' = ${v} is not a u32`);
      dv.setUint32(i * 4, v, true);
    } else dv.setInt32(i * 4, v, true);
  });
  for (const k of Object.keys(values)) {
    if (!spec.params.some(([name]) => name === k)) throw new Error(`${spec.shader}: unknown param '${k}'`);
  }
  return buf;
}
