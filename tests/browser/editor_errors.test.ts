// Errors as a person meets them in the editor, in Chromium: a text file, a truncated PNG and a damaged JPEG as the
// "Image", a photo too large (scaled down with a notice), a folder that is not a model, and a browser whose WebGPU
// gives no adapter or does not exist. Each shows its message in the page, and the page keeps working: the photo
// and history stay, a valid photo still opens, and Edit is ready once the model is.
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../src/engine/image/png.ts';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.ts';
import { artifactPath, ROOT, startBrowserHarness, type BrowserHarness } from './harness.ts';

async function shownRgb(page: Page, name: string): Promise<{ width: number; height: number; rgb: number[] }> {
  return page.getByRole('img', { name, exact: true }).evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const rgb: number[] = [];
    for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
    return { width: c.width, height: c.height, rgb };
  });
}

/** The alert for the image, once it says `pattern`. */
async function imageAlert(page: Page, pattern: RegExp): Promise<string> {
  const alert = page.getByRole('alert').filter({ hasText: pattern });
  await alert.waitFor();
  expect(await alert.getAttribute('data-code')).toBe('bad-image');
  return alert.innerText();
}

describe('editor errors', () => {
  let h: BrowserHarness;
  let fixturePng: Buffer;
  let fixtureRgb: number[];
  let tmp: string;

  beforeAll(async () => {
    const st = SafetensorsFile.fromArrayBuffer(await readFile(join(ROOT, 'models/tiny-ip2p/golden/pipeline.safetensors')), 'pipeline');
    const img = await st.read('run1.image_u8'); // [64, 64, 3]
    fixtureRgb = Array.from(img.data as Uint8Array);
    fixturePng = Buffer.from(encodePng(img.data as Uint8Array, 64, 64));
    tmp = await mkdtemp(join(tmpdir(), 'retouch-errors-'));
    h = await startBrowserHarness();
  });
  afterAll(async () => {
    await h?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  describe('with WebGPU', () => {
    let page: Page;
    const pageErrors: string[] = [];
    beforeAll(async () => {
      page = await h.newPage('/?model=tiny-ip2p');
      page.setDefaultTimeout(30_000);
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.getByLabel('Image', { exact: true }).setInputFiles({ name: 'fixture.png', mimeType: 'image/png', buffer: fixturePng });
      await page.getByRole('img', { name: 'Original image', exact: true }).waitFor();
    });
    const image = () => page.getByLabel('Image', { exact: true });
    const thumbs = () => page.getByRole('navigation', { name: 'History' }).getByRole('button');

    it('Cancel while the model loads: says it stopped, and Resume loads it again', async () => {
      const cancel = page.getByRole('button', { name: 'Cancel', exact: true });
      await cancel.click(); // waits until the load has started (the button is enabled only while a job runs)
      const note = page.locator('[data-code=cancelled][data-topic=model]');
      await note.waitFor();
      expect(await note.innerText()).toMatch(/Model loading stopped/);
      await expect(page.getByRole('button', { name: 'Edit', exact: true }).isDisabled()).resolves.toBe(true);
      await note.getByRole('button', { name: 'Resume', exact: true }).click();
      await page.getByRole('progressbar', { name: 'Model download' }).waitFor();
    });

    it('a text file as the image: "not an image", and the photo and history stay', async () => {
      await image().setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('a shopping list, not a photo\n') });
      const text = await imageAlert(page, /not an image/);
      expect(text).toContain('notes.txt');
      expect((await shownRgb(page, 'Original image')).rgb).toEqual(fixtureRgb);
      await expect(thumbs().count()).resolves.toBe(1);
    });

    it('a truncated PNG: "truncated or damaged"; a damaged JPEG: "could not be decoded"', async () => {
      const cut = fixturePng.subarray(0, Math.floor(fixturePng.length / 2));
      await image().setInputFiles({ name: 'cut.png', mimeType: 'image/png', buffer: cut });
      expect(await imageAlert(page, /cut\.png/)).toMatch(/ends early.*truncated or damaged/);
      // a JPEG start-of-image marker followed by noise
      const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.alloc(400, 0x5a)]);
      await image().setInputFiles({ name: 'broken.jpg', mimeType: 'image/jpeg', buffer: jpeg });
      expect(await imageAlert(page, /broken\.jpg/)).toMatch(/could not be decoded.*damaged or incomplete/);
      expect((await shownRgb(page, 'Original image')).rgb).toEqual(fixtureRgb);
      await expect(thumbs().count()).resolves.toBe(1);
    });

    it('a photo too large is scaled down with a notice; the earlier photo stays in the history', async () => {
      const w = 2400;
      const hgt = 1600;
      const rgb = new Uint8Array(w * hgt * 3);
      for (let y = 0, o = 0; y < hgt; y++) {
        for (let x = 0; x < w; x++, o += 3) {
          rgb[o] = (x * 255) / w;
          rgb[o + 1] = (y * 255) / hgt;
          rgb[o + 2] = 128;
        }
      }
      await image().setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.from(encodePng(rgb, w, hgt)) });
      const note = page.locator('[data-code=scaled]');
      await note.waitFor();
      // 2048 / 2400 of each side, rounded
      expect(await note.innerText()).toMatch(/2400×1600.*scaled to 2048×1365/);
      const shown = await page.getByRole('img', { name: 'Original image', exact: true }).evaluate((el) => [(el as HTMLCanvasElement).width, (el as HTMLCanvasElement).height]);
      expect(shown).toEqual([2048, 1365]);
      await expect(thumbs().count()).resolves.toBe(2);
      await page.getByRole('button', { name: 'Undo', exact: true }).click();
      expect((await shownRgb(page, 'Original image')).rgb).toEqual(fixtureRgb);
    });

    it('the page keeps working: Edit becomes ready once the model has loaded', async () => {
      await page.getByLabel('Instruction', { exact: true }).fill('make it look like winter');
      const edit = page.getByRole('button', { name: 'Edit', exact: true });
      await page.waitForFunction(() => !(document.querySelector('.actionbar .btn-primary') as HTMLButtonElement).disabled, null, { timeout: 120_000 });
      await expect(edit.isEnabled()).resolves.toBe(true);
      expect(pageErrors).toEqual([]);
    });

    it('a folder that is not a model: says what a model folder holds', async () => {
      const dir = join(tmp, 'holiday-photos');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'readme.txt'), 'photos from the beach');
      await writeFile(join(dir, 'beach.png'), fixturePng);
      await page.getByLabel('Model', { exact: true }).selectOption('folder');
      await page.getByLabel('Model folder', { exact: true }).setInputFiles(dir);
      const alert = page.getByRole('alert').filter({ hasText: 'not an InstructPix2Pix model' });
      await alert.waitFor();
      expect(await alert.getAttribute('data-code')).toBe('bad-model');
      expect(await alert.innerText()).toMatch(/model_index\.json/);
      // the loaded model, the photo and the history are untouched
      await expect(page.getByRole('button', { name: 'Edit', exact: true }).isEnabled()).resolves.toBe(true);
      await expect(thumbs().count()).resolves.toBe(2);
      await page.screenshot({ path: artifactPath('editor-errors.png') });
    });

    it('paste and drop reach the same path as "Image": a pasted photo and a dropped text file', async () => {
      const b64 = fixturePng.toString('base64');
      await page.evaluate((data) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
        document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true }));
      }, b64);
      await page.getByRole('button', { name: '2. Photo: pasted image', exact: true }).waitFor();
      expect((await shownRgb(page, 'Original image')).rgb).toEqual(fixtureRgb);
      await page.evaluate(() => {
        const dt = new DataTransfer();
        dt.items.add(new File(['just words'], 'dropped.txt', { type: 'text/plain' }));
        document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      });
      expect(await imageAlert(page, /dropped\.txt/)).toMatch(/not an image/);
      await expect(thumbs().count()).resolves.toBe(2);
    });
  });

  for (const mode of ['no-adapter', 'missing'] as const) {
    it(`WebGPU ${mode === 'missing' ? 'missing' : 'without an adapter'}: says which browsers and flags, and photos still open`, async () => {
      const page = await h.newPage('/?model=tiny-ip2p', { webgpu: mode });
      page.setDefaultTimeout(30_000);
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const alert = page.locator('[role=alert][data-code=no-webgpu]');
      await alert.waitFor();
      const text = await alert.innerText();
      expect(text).toMatch(/WebGPU is not available/);
      expect(text).toMatch(mode === 'missing' ? /does not offer WebGPU/ : /found no usable GPU adapter/);
      expect(text).toContain('chrome://flags/#enable-unsafe-webgpu');
      expect(text).toMatch(/Firefox[\s\S]*dom\.webgpu\.enabled/);
      expect(text).toMatch(/Safari/);
      expect(await page.getByTestId('model-status').innerText()).toBe('No WebGPU');
      // the rest of the page works: a photo opens, the instruction takes text; Edit says why it cannot run
      await page.getByLabel('Image', { exact: true }).setInputFiles({ name: 'fixture.png', mimeType: 'image/png', buffer: fixturePng });
      expect((await shownRgb(page, 'Original image')).rgb).toEqual(fixtureRgb);
      await page.getByLabel('Instruction', { exact: true }).fill('make it a watercolor');
      const edit = page.getByRole('button', { name: 'Edit', exact: true });
      await expect(edit.isDisabled()).resolves.toBe(true);
      expect(await page.locator('.actionbar-hint').innerText()).toBe('Editing needs WebGPU.');
      if (mode === 'no-adapter') await page.screenshot({ path: artifactPath('editor-nowebgpu.png'), fullPage: true });
      expect(errors).toEqual([]);
      await page.close();
    });
  }
});
