// Suite: the WGSL compute round trip through the real engine (acquireDevice -> WebGpuBackend -> add, silu ->
// read). Inputs come from the test; it checks the outputs against values it computes itself.
import { acquireDevice, describeAdapter } from '../../../src/engine/gpu/device.ts';
import { WebGpuBackend } from '../../../src/engine/ops/webgpu/backend.ts';
import { shaderNames } from '../../../src/engine/gpu/shader_source.ts';
import { realm } from './context.ts';

export interface RoundtripArgs {
  a: number[];
  b: number[];
  /** Read both outputs with Promise.all (two flushes in flight at once) instead of one after the other. */
  concurrentReads?: boolean;
}

export default async function roundtrip(args: unknown) {
  const { a, b, concurrentReads = false } = args as RoundtripArgs;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) throw new Error('roundtrip: need a, b of equal length');
  const t0 = performance.now();
  const ctx = await acquireDevice();
  const t1 = performance.now();
  try {
    const be = new WebGpuBackend(ctx);
    const n = a.length;
    const ta = be.fromArray(Float32Array.from(a), [n]);
    const tb = be.fromArray(Float32Array.from(b), [n]);
    const sum = be.add(ta, tb); // [n]
    const act = be.silu(ta); // [n]
    const [add, silu] = concurrentReads
      ? await Promise.all([be.read(sum), be.read(act)])
      : [await be.read(sum), await be.read(act)];
    return {
      realm: realm(),
      adapter: describeAdapter(ctx),
      shaders: shaderNames(),
      add: Array.from(add),
      silu: Array.from(silu),
      ms: { acquire: t1 - t0, compute: performance.now() - t1 },
    };
  } finally {
    ctx.device.destroy();
  }
}
