// "About this GPU" on the editor page in Chromium: it names the adapter Chromium reports and lists the key limits
// with the values the device really has; screenshots at desktop and phone sizes go to test-results/ for a human look.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactPath, startBrowserHarness, type BrowserHarness } from './harness.ts';

const KEY_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
];

const VIEWPORTS = [
  { name: 'devpage.png', width: 1280, height: 800 },
  { name: 'devpage-mobile.png', width: 390, height: 844 },
];

describe('About this GPU', () => {
  let h: BrowserHarness;
  beforeAll(async () => {
    h = await startBrowserHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const vp of VIEWPORTS) {
    it(`shows the WebGPU adapter and its limits at ${vp.width}x${vp.height}`, async () => {
      const page = await h.newPage('/', { viewport: { width: vp.width, height: vp.height } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await expect(page.title()).resolves.toBe('Retouch');
      expect(await page.locator('.brand').innerText()).toBe('Retouch');
      // the adapter details are one click away, in a dialog
      await page.getByRole('button', { name: 'About this GPU', exact: true }).click();
      const dialog = page.getByRole('dialog', { name: 'About this GPU' });
      await dialog.waitFor();
      const panel = dialog.getByTestId('adapter-panel');
      await panel.waitFor();

      // The name comes from the same adapter the harness saw (Chromium's SwiftShader here).
      const name = await page.getByTestId('adapter-name').innerText();
      const { vendor, architecture } = h.adapter.info;
      expect(vendor || architecture).not.toBe('');
      if (architecture) expect(name).toContain(architecture);
      if (vendor) expect(name).toContain(vendor);
      expect(await panel.innerText()).toMatch(/Features[\s\S]*shader-f16[\s\S]*Limits/i);
      for (const limit of KEY_LIMITS) {
        const row = page.locator(`[data-limit="${limit}"]`);
        await expect(row.count(), limit).resolves.toBe(1);
        expect(Number(await row.getAttribute('data-value')), limit).toBe(h.adapter.limits[limit]);
        expect(await row.innerText()).toContain(limit);
      }
      const f16 = await page.locator('[data-feature="shader-f16"]').getAttribute('data-enabled');
      expect(f16).toBe(String(h.adapter.features.shaderF16));
      // the engine worker's own adapter line, once it has started
      await dialog.getByTestId('engine-adapter').waitFor();
      expect(await dialog.getByTestId('engine-adapter').innerText()).toContain(architecture || vendor);
      // Nothing spills sideways on a phone.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await page.screenshot({ path: artifactPath(vp.name) });
      await dialog.getByRole('button', { name: 'Close', exact: true }).click();
      await expect(dialog.isVisible()).resolves.toBe(false);
      expect(errors).toEqual([]);
      await page.close();
    });
  }
});
