// Device acquisition: ask for the limits and features we can use, up to what the adapter offers. The same code
// runs in a page, a worker, and Node (where `gpu` comes from the `webgpu` package, see node.ts).

export interface GpuContext {
  device: GPUDevice;
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupStorageSize: number };
  /** Resolves (never rejects) when the device is lost; `reason` is 'destroyed' after destroy(). */
  lost: Promise<GPUDeviceLostInfo>;
}

export class WebGpuUnavailableError extends Error {
  override name = 'WebGpuUnavailableError';
}

export class DeviceLostError extends Error {
  override name = 'DeviceLostError';
}

export interface AcquireOptions {
  /** Defaults to navigator.gpu. */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /** Do not enable shader-f16 even when present (to test the packed-f16 path on such adapters). */
  disableF16?: boolean;
}

export async function acquireDevice(opts: AcquireOptions = {}): Promise<GpuContext> {
  const gpu = opts.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new WebGpuUnavailableError(
      'WebGPU is not available here: use Chrome or Edge 113+, or enable WebGPU (chrome://flags/#enable-unsafe-webgpu, ' +
        'Firefox: dom.webgpu.enabled, Safari: Develop > Feature Flags > WebGPU).',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGpuUnavailableError(
      'No WebGPU adapter was found. In Node, set VK_ICD_FILENAMES to a Vulkan driver (Debian: apt-get install ' +
        'chromium mesa-vulkan-drivers, then /usr/lib/chromium/vk_swiftshader_icd.json, or run scripts/setup-lavapipe.sh); ' +
        'in Chromium, pass --enable-unsafe-webgpu where WebGPU is not on by default.',
    );
  }
  const want: GPUFeatureName[] = [];
  const shaderF16 = adapter.features.has('shader-f16') && !opts.disableF16;
  if (shaderF16) want.push('shader-f16');
  const subgroups = adapter.features.has('subgroups' as GPUFeatureName);
  if (subgroups) want.push('subgroups' as GPUFeatureName);
  const timestampQuery = adapter.features.has('timestamp-query');
  if (timestampQuery) want.push('timestamp-query');
  const a = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
    maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: a.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: a.maxComputeWorkgroupSizeY,
    maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures: want, requiredLimits });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  return {
    device,
    adapterInfo: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
    },
    features: { shaderF16, subgroups, timestampQuery },
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
    },
    lost: device.lost,
  };
}

export function describeAdapter(ctx: GpuContext): string {
  const i = ctx.adapterInfo;
  const name = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'unknown adapter';
  const f = Object.entries(ctx.features)
    .filter(([, v]) => v)
    .map(([k]) => k)
    .join(', ');
  return `${name} [features: ${f || 'none'}; maxStorageBufferBindingSize ${ctx.limits.maxStorageBufferBindingSize}]`;
}
