// Test access to a real WebGPU device in Node (Dawn via the `webgpu` package). A missing adapter is a failure
// with instructions, never a skip. Each test file logs the adapter it ran on.
import { describeAdapter, type GpuContext } from '../../src/engine/gpu/device.ts';
import { acquireNodeDevice } from '../../src/engine/gpu/node.ts';
import { WebGpuBackend } from '../../src/engine/ops/webgpu/backend.ts';

const cache = new Map<string, Promise<GpuContext>>();

export async function testGpu(opts: { disableF16?: boolean } = {}): Promise<GpuContext> {
  const key = JSON.stringify(opts);
  let p = cache.get(key);
  if (!p) {
    p = acquireNodeDevice(opts).then((ctx) => {
      console.log(`[webgpu] ${process.env.VK_ICD_FILENAMES ?? '(no VK_ICD_FILENAMES)'}: ${describeAdapter(ctx)}`);
      return ctx;
    });
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  try {
    return await p;
  } catch (e) {
    throw new Error(
      `No WebGPU adapter in Node: ${(e as Error).message}\nRun tests through \`npm test\` (scripts/with-vulkan.mjs sets ` +
        'VK_ICD_FILENAMES). Install a Vulkan driver: `apt-get install chromium mesa-vulkan-drivers` (SwiftShader) ' +
        'and/or `bash scripts/setup-lavapipe.sh` (Mesa 25 lavapipe), or point RETOUCH_VK_ICD at an ICD json.',
    );
  }
}

export async function testBackend(opts: { disableF16?: boolean } = {}): Promise<WebGpuBackend> {
  return new WebGpuBackend(await testGpu(opts));
}

/** True when the Node ICD in use is expected to offer shader-f16 (lavapipe 25): f16 tests are then required. */
export function expectF16(): boolean {
  return /lvp|lavapipe/i.test(process.env.VK_ICD_FILENAMES ?? '') || process.env.RETOUCH_REQUIRE_F16 === '1';
}
