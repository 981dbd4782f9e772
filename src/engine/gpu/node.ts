// Node only: WebGPU through the `webgpu` package (Dawn). The Vulkan driver is chosen by VK_ICD_FILENAMES, which
// must be set before the process starts (scripts/with-vulkan.mjs does it for npm scripts).
import { acquireDevice, type AcquireOptions, type GpuContext } from './device.ts';

let gpuInstance: GPU | undefined;

export async function nodeGpu(): Promise<GPU> {
  if (!gpuInstance) {
    const mod = (await import('webgpu')) as unknown as { create: (o: string[]) => GPU; globals: object };
    Object.assign(globalThis, mod.globals);
    gpuInstance = mod.create([]);
  }
  return gpuInstance;
}

export async function acquireNodeDevice(opts: Omit<AcquireOptions, 'gpu'> = {}): Promise<GpuContext> {
  return acquireDevice({ ...opts, gpu: await nodeGpu() });
}
