// Node-side tests: unit tests and real-WebGPU tests through the `webgpu` package (Dawn on a Vulkan ICD chosen
// by scripts/with-vulkan.mjs before vitest starts). Browser tests drive the system Chromium from here too.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    globalSetup: ['tests/helpers/global-setup.ts'],
  },
});
