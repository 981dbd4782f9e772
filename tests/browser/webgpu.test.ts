// Real WebGPU in headless Chromium: the engine's WGSL round trip on the page's main thread and in a module
// worker, checked against values computed here; and the dev page's message when WebGPU is missing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, startBrowserHarness, type BrowserHarness } from './harness.ts';

interface RoundtripResult {
  realm: 'window' | 'worker';
  adapter: string;
  shaders: string[];
  add: number[];
  silu: number[];
  ms: { acquire: number; compute: number };
}

// A few hundred f32 values (not a multiple of the 256-wide workgroup), from a fixed LCG, plus edge values.
function inputs(n: number): { a: number[]; b: number[] } {
  let s = 12345;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const a = Float32Array.from({ length: n }, () => rnd() * 12);
  const b = Float32Array.from({ length: n }, () => rnd() * 12);
  a.set([0, -0, 1, -1, 20, -20, 1e-3, -1e-3], 0);
  return { a: Array.from(a), b: Array.from(b) };
}

function check(r: RoundtripResult, a: number[], b: number[]): { sumExact: number; siluMaxErr: number } {
  expect(r.add.length).toBe(a.length);
  expect(r.silu.length).toBe(a.length);
  let exact = 0;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    // f32 + f32 is exact in f64; rounding it once to f32 is the IEEE f32 sum.
    expect(r.add[i], `add[${i}] = ${a[i]} + ${b[i]}`).toBe(Math.fround(a[i] + b[i]));
    exact++;
    const want = a[i] / (1 + Math.exp(-a[i]));
    const err = Math.abs(r.silu[i] - want) / Math.max(1, Math.abs(want));
    expect(err, `silu(${a[i]}) = ${r.silu[i]}, want ${want}`).toBeLessThanOrEqual(1e-6);
    worst = Math.max(worst, err);
  }
  return { sumExact: exact, siluMaxErr: worst };
}

describe('WebGPU in Chromium', () => {
  let h: BrowserHarness;
  beforeAll(async () => {
    h = await startBrowserHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reports a real adapter with compute limits the engine can use', () => {
    expect(h.adapter.description).not.toBe('unknown adapter');
    expect(h.adapter.realm).toBe('window');
    expect(h.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
    expect(h.adapter.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
  });

  for (const worker of [false, true]) {
    it(`runs add and silu through WebGpuBackend ${worker ? 'in a module worker' : 'on the main thread'}`, async () => {
      const { a, b } = inputs(777);
      const t0 = performance.now();
      const r = await h.run<RoundtripResult>('roundtrip', { a, b }, { worker });
      const wall = performance.now() - t0;
      expect(r.realm).toBe(worker ? 'worker' : 'window');
      expect(r.shaders).toContain('elementwise'); // WGSL came through import.meta.glob in this realm
      expect(r.adapter).toBe(h.adapter.description);
      const { siluMaxErr } = check(r, a, b);
      console.log(
        `[chromium webgpu] ${r.realm}: ${r.adapter}; add exact on ${a.length}, silu max rel err ${siluMaxErr.toExponential(2)}; ` +
          `acquire ${r.ms.acquire.toFixed(0)} ms, compute+read ${r.ms.compute.toFixed(0)} ms, round trip ${wall.toFixed(0)} ms`,
      );
    });
  }

  it('reports a missing suite as an error, from the page and from the worker', async () => {
    await expect(h.run('no_such_suite')).rejects.toThrow(/no browser suite 'no_such_suite'/);
    await expect(h.run('no_such_suite', null, { worker: true })).rejects.toThrow(/no browser suite 'no_such_suite'/);
  });

  // Two reads in flight at once, as a preview read during a denoise loop would be: each must see its own op done.
  it('reads two outputs concurrently (Promise.all) and gets both results', async () => {
    const { a, b } = inputs(300);
    const r = await h.run<RoundtripResult>('roundtrip', { a, b, concurrentReads: true });
    check(r, a, b);
  });

  for (const mode of ['missing', 'no-adapter'] as const) {
    it(`dev page says WebGPU is not available when ${mode === 'missing' ? 'navigator.gpu is absent' : 'no adapter is found'}`, async () => {
      const page = await h.newPage('/', { webgpu: mode });
      const panel = page.getByTestId('webgpu-missing');
      await panel.waitFor();
      const text = await panel.innerText();
      expect(text).toMatch(/WebGPU is not available/);
      expect(text).toContain('chrome://flags/#enable-unsafe-webgpu');
      expect(text).toContain('dom.webgpu.enabled');
      expect(text).toMatch(/Safari/);
      expect(await page.getByTestId('adapter-panel').count()).toBe(0);
      if (mode === 'missing') await page.screenshot({ path: artifactPath('devpage-nowebgpu.png') });
      await page.close();
    });
  }
});
