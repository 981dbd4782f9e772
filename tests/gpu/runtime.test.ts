// The runtime on a real adapter: upload, a WGSL dispatch, readback; pooled reuse inside one submission; errors.
import { describe, expect, it } from 'vitest';
import { testBackend } from '../helpers/gpu.ts';

describe('GpuRuntime round trip (Node, real WebGPU)', () => {
  it('adds two tensors on the GPU and reads the exact result back', async () => {
    const be = await testBackend();
    const n = 1000; // not a multiple of the workgroup size
    const a = Float32Array.from({ length: n }, (_, i) => i * 0.5);
    const b = Float32Array.from({ length: n }, (_, i) => 1000 - i);
    const y = await be.read(be.add(be.fromArray(a, [n]), be.fromArray(b, [n])));
    expect(y.length).toBe(n);
    for (let i = 0; i < n; i++) expect(y[i]).toBe(a[i] + b[i]);
  });

  it('reuses a released buffer within one submission without corrupting results', async () => {
    const be = await testBackend();
    const x = be.fromArray(Float32Array.from([1, 2, 3, 4]), [4]);
    const t1 = be.scale(x, 2); // 2 4 6 8
    const t2 = be.scale(t1, 1, 1); // 3 5 7 9
    be.release(t1);
    const t3 = be.scale(t2, 10); // reuses t1's buffer: 30 50 70 90
    expect(Array.from(await be.read(t3))).toEqual([30, 50, 70, 90]);
    expect(Array.from(await be.read(t2))).toEqual([3, 5, 7, 9]);
    expect(be.rt.stats.submits).toBeGreaterThan(0);
  });

  it('reads f16 weights back widened to f32', async () => {
    const be = await testBackend();
    const half = Uint16Array.from([0x3c00, 0xc000, 0x3555, 0x0000, 0x7bff]); // 1, -2, 0.33325, 0, 65504
    const w = be.weight({ dtype: 'f16', data: half }, [5]);
    const y = await be.read(w);
    expect(Array.from(y)).toEqual([1, -2, 0.333251953125, 0, 65504]);
  });

  it('rejects mismatched shapes with a clear error', async () => {
    const be = await testBackend();
    const a = be.fromArray(new Float32Array(4), [4]);
    const b = be.fromArray(new Float32Array(3), [3]);
    expect(() => be.add(a, b)).toThrow(/shapes \[4\] and \[3\] differ/);
  });
});

describe('sentinel region', () => {
  it('passes for a correct kernel and catches a write past the end', async () => {
    const be = await testBackend();
    be.rt.sentinel = true;
    try {
      const x = be.fromArray(Float32Array.from({ length: 37 }, (_, i) => i), [37]);
      const y = be.silu(x) as import('../../src/engine/gpu/runtime.ts').GpuTensor;
      await be.rt.checkSentinel(y);
      // Simulate an out-of-bounds write: copy 8 more bytes than the data into y's buffer tail.
      const big = be.fromArray(new Float32Array(64).fill(5), [64]) as import('../../src/engine/gpu/runtime.ts').GpuTensor;
      const enc = be.rt.device.createCommandEncoder();
      enc.copyBufferToBuffer(big.buffer, 0, y.buffer, 0, 37 * 4 + 8 + 4 /* past the 16-byte rounding */ + 12);
      be.rt.device.queue.submit([enc.finish()]);
      await expect(be.rt.checkSentinel(y)).rejects.toThrow(/out-of-bounds write/);
    } finally {
      be.rt.sentinel = false;
    }
  });
});

describe('buffer pool: trims and grow-trims (see src/engine/ops/counting/buffer_plan.ts)', () => {
  const ramp = (n: number) => Float32Array.from({ length: n }, (_, i) => i - 100);

  it('trim() waits for the flush while recorded work still binds a free buffer; releaseCached() frees at once', async () => {
    const be = await testBackend();
    const x = be.fromArray(Float32Array.from([1, 2, 3, 4]), [4]); // 16 bytes
    const y = be.scale(x, 2); // 16 bytes, reads x when submitted
    be.release(x); // x's buffer is free but the recorded dispatch binds it
    be.rt.trim();
    expect(be.rt.stats.bytesAllocated).toBe(32); // destroying x now would fail the submit below
    expect(Array.from(await be.read(y))).toEqual([2, 4, 6, 8]);
    expect(be.rt.stats.bytesAllocated).toBe(16); // destroyed right after the submission
    const z = be.scale(y, 1, 1); // 16 bytes
    be.release(y);
    await be.rt.releaseCached(); // flushes, then destroys y's buffer
    expect(be.rt.stats.bytesAllocated).toBe(16);
    expect(Array.from(await be.read(z))).toEqual([3, 5, 7, 9]);
  });

  it('an output that would raise the peak submits the recorded work first and destroys the free buffers', async () => {
    const be = await testBackend();
    const rt = be.rt;
    rt.setPoolPolicy({ growTrimMinBytes: 0, growTrimFreeRatio: 0.5 });
    // compile the two kernels used below (affine, concat's copy), as a warmed-up engine has, then start empty
    const w = be.fromArray(new Float32Array(4), [4]);
    const ws = be.scale(w, 1);
    const wc = be.concat([ws, w], 0);
    await be.read(wc);
    for (const t of [w, ws, wc]) be.release(t);
    await rt.releaseCached();
    expect(rt.stats.bytesAllocated).toBe(0);
    expect(rt.stats.peakBytes).toBe(64);
    const s0 = { ...rt.stats };

    const n = 256; // 1 KiB tensors
    const a = be.fromArray(ramp(n), [n]);
    const b = be.scale(a, 2);
    const c = be.scale(b, 3); // 3 KiB allocated: the peak
    be.release(b); // 1 KiB free, still bound by c's recorded dispatch
    const d = be.concat([c, c], 0); // 2 KiB, none free: would reach 5 KiB; the free KiB is half of it -> grow-trim
    expect(rt.stats.growTrims).toBe(1);
    expect(rt.stats.submits - s0.submits).toBe(1); // b and c were submitted before b's buffer was destroyed
    expect(rt.stats.dispatches - s0.dispatches).toBe(2);
    expect(rt.stats.bytesAllocated).toBe(3072 - 1024 + 2048);
    expect(rt.stats.peakBytes).toBe(4096);
    const got = await be.read(d);
    const c6 = ramp(n).map((v) => v * 6);
    expect(Array.from(got)).toEqual([...c6, ...c6]);

    // after a flush that submitted (the read above), the same pattern grows instead: one trim per stage start
    be.release(a);
    be.release(c); // 2 KiB free
    const e = be.concat([d, d], 0); // 4 KiB, would raise the peak, but the pool is disarmed
    expect(rt.stats.growTrims).toBe(1);
    expect(rt.stats.bytesAllocated).toBe(2048 + 2048 + 4096);
    expect(rt.stats.peakBytes).toBe(8192);
    await rt.releaseCached(); // rearms, and frees a and c
    expect(rt.stats.bytesAllocated).toBe(6144);
    expect(Array.from(await be.read(e)).slice(n * 3)).toEqual(Array.from(c6));
  });
});
