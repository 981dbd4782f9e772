// The editor page end to end in Chromium with the real engine worker and the bundled tiny model: ?model= loads it,
// the fixture photo goes in through "Image", an edit runs with chosen sliders, Steps and Seed; then the result,
// the progress bar, undo/redo, the downloaded PNG's metadata, determinism per seed, a chained edit, Cancel, the
// keyboard shortcuts and screenshots at desktop and phone sizes. Expected values come from the golden fixture
// (input pixels, token count), from the CLI on the CPU reference, or from the page's own earlier output.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng, readPngText } from '../../src/engine/image/png.ts';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.ts';
import { artifactPath, ROOT, startBrowserHarness, type BrowserHarness } from './harness.ts';

const GOLDEN = join(ROOT, 'models/tiny-ip2p/golden');
const PROMPT = 'make the sky a sunset'; // golden tokenizer prompt 0
const STEPS = 2;
const SEED = 1234;
const TEXT_GUIDANCE = 6.5;
const IMAGE_GUIDANCE = 1.25;

interface Pixels {
  width: number;
  height: number;
  rgba: number[];
}

async function canvasPixels(loc: Locator): Promise<Pixels> {
  return loc.evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    return { width: c.width, height: c.height, rgba: Array.from(data) };
  });
}

function rgbOf(p: { rgba: ArrayLike<number> }): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.rgba.length; i += 4) out.push(p.rgba[i], p.rgba[i + 1], p.rgba[i + 2]);
  return out;
}

function meanAbsDiff(a: number[], b: number[]): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** Sets a range input the way a person's drag does: the native setter, then an input event React listens to. */
async function setRange(loc: Locator, value: number): Promise<void> {
  await loc.evaluate((el, v) => {
    const input = el as HTMLInputElement;
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(input, String(v));
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

async function progressOf(page: Page): Promise<{ now: number; max: number; text: string }> {
  const bar = page.getByRole('progressbar', { name: 'Progress', exact: true });
  return {
    now: Number(await bar.getAttribute('aria-valuenow')),
    max: Number(await bar.getAttribute('aria-valuemax')),
    text: (await bar.getAttribute('aria-valuetext')) ?? '',
  };
}

/** `retouch edit` on the CPU reference with the test's parameters: the CLI's output for the same inputs. */
async function runCli(png: Buffer): Promise<PNG> {
  const dir = await mkdtemp(join(tmpdir(), 'retouch-editor-'));
  try {
    await writeFile(join(dir, 'in.png'), png);
    const args = ['tsx', 'src/cli/main.ts', 'edit', '--model', 'models/tiny-ip2p', '--image', join(dir, 'in.png'), '--prompt', PROMPT];
    args.push('--out', join(dir, 'out.png'), '--steps', String(STEPS), '--seed', String(SEED), '--backend', 'cpu');
    args.push('--text-guidance', String(TEXT_GUIDANCE), '--image-guidance', String(IMAGE_GUIDANCE));
    await promisify(execFile)('npx', args, { cwd: ROOT, timeout: 120_000 });
    return PNG.sync.read(await readFile(join(dir, 'out.png')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('editor page', () => {
  let h: BrowserHarness;
  let page: Page;
  let fixturePng: Buffer;
  let fixtureRgb: number[];
  let firstResult: Pixels;
  let cliRun: Promise<PNG>;
  const errors: string[] = [];

  beforeAll(async () => {
    const st = SafetensorsFile.fromArrayBuffer(await readFile(join(GOLDEN, 'pipeline.safetensors')), 'pipeline.safetensors');
    const img = await st.read('run1.image_u8'); // [64, 64, 3] u8
    expect(img.shape).toEqual([64, 64, 3]);
    fixtureRgb = Array.from(img.data as Uint8Array);
    fixturePng = Buffer.from(encodePng(img.data as Uint8Array, 64, 64));
    cliRun = runCli(fixturePng); // on the CPU reference, while the browser works
    cliRun.catch(() => {}); // awaited (and reported) by its test
    h = await startBrowserHarness();
    page = await h.newPage('/?model=tiny-ip2p');
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (e) => errors.push(e.message));
  });
  afterAll(async () => {
    await h?.close();
  });

  const edited = () => page.getByRole('img', { name: 'Edited image', exact: true });
  const original = () => page.getByRole('img', { name: 'Original image', exact: true });
  const button = (name: string) => page.getByRole('button', { name, exact: true });

  it('loads the model a ?model=tiny-ip2p link names, labeled as random weights', async () => {
    const model = page.getByLabel('Model', { exact: true });
    await expect(model.evaluate((el) => (el as HTMLSelectElement).selectedOptions[0].text)).resolves.toBe(
      'tiny-ip2p (random weights, for testing)',
    );
    await page.getByTestId('model-plan').filter({ hasText: 'Loaded' }).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId('model-plan').innerText()).toMatch(/random weights/);
    expect(await page.getByTestId('model-status').innerText()).toMatch(/tiny-ip2p/);
    // Defaults as InstructPix2Pix has them.
    expect(await page.getByLabel('Text guidance', { exact: true }).inputValue()).toBe('7.5');
    expect(await page.getByLabel('Image guidance', { exact: true }).inputValue()).toBe('1.5');
    expect(await page.getByLabel('Steps', { exact: true }).inputValue()).toBe('20');
  });

  it('takes the fixture photo through "Image" and shows its exact pixels', async () => {
    await page.getByLabel('Image', { exact: true }).setInputFiles({ name: 'fixture.png', mimeType: 'image/png', buffer: fixturePng });
    await original().waitFor();
    const shown = await canvasPixels(original());
    expect([shown.width, shown.height]).toEqual([64, 64]);
    expect(rgbOf(shown)).toEqual(fixtureRgb);
    await expect(edited().count()).resolves.toBe(0);
  });

  it('counts the instruction in tokens (n/75) and warns about what the model does badly', async () => {
    const box = page.getByLabel('Instruction', { exact: true });
    await box.fill('put two dogs on the left');
    const warning = page.getByTestId('instruction-warning');
    await warning.waitFor();
    expect(await warning.locator('li').evaluateAll((li) => li.map((x) => x.getAttribute('data-kind')))).toEqual(['count', 'position']);
    await box.fill(PROMPT);
    await expect(warning.count()).resolves.toBe(0);
    // golden tokenizer case 0: <bos> make the sky a sunset <eos> -> 5 content tokens
    await page.getByTestId('token-counter').filter({ hasText: '5/75' }).waitFor();
  });

  it('edits with the chosen sliders, Steps and Seed: "Edited image" differs from the input, "Progress" reaches N/N', async () => {
    await setRange(page.getByLabel('Text guidance', { exact: true }), TEXT_GUIDANCE);
    await setRange(page.getByLabel('Image guidance', { exact: true }), IMAGE_GUIDANCE);
    await page.getByLabel('Steps', { exact: true }).fill(String(STEPS));
    await page.getByLabel('Seed', { exact: true }).fill(String(SEED));
    await page.getByLabel('Randomize seed', { exact: true }).setChecked(false);
    // the page shows what it will use
    expect(await page.locator('output').allInnerTexts()).toEqual(['6.5', '1.25']);

    const seen = new Set<string>();
    await page.exposeFunction('__progressSeen', (v: string) => seen.add(v));
    await page.evaluate(() => {
      const bar = document.querySelector('[role=progressbar][aria-label=Progress]')!;
      new MutationObserver(() => (window as unknown as { __progressSeen(v: string): void }).__progressSeen(`${bar.getAttribute('aria-valuenow')}/${bar.getAttribute('aria-valuemax')}`)).observe(bar, {
        attributes: true,
      });
    });
    // the live preview: drawn on the canvas from the worker's per-step events, at latent size (image / 8)
    await page.evaluate(() => {
      const w = window as unknown as { __previewSizes: string[] };
      w.__previewSizes = [];
      const wrap = document.querySelector('.live-preview')!;
      new MutationObserver(() => {
        const c = wrap.querySelector('canvas')!;
        if (!wrap.hasAttribute('hidden')) w.__previewSizes.push(`${c.width}x${c.height}`);
      }).observe(wrap, { attributes: true, subtree: true });
    });
    await button('Edit').click();
    await edited().waitFor({ timeout: 120_000 });
    const previews = await page.evaluate(() => (window as unknown as { __previewSizes: string[] }).__previewSizes);
    expect(previews.length).toBeGreaterThan(0);
    expect(new Set(previews)).toEqual(new Set(['8x8']));
    firstResult = await canvasPixels(edited());
    expect([firstResult.width, firstResult.height]).toEqual([64, 64]);
    const diff = meanAbsDiff(rgbOf(firstResult), fixtureRgb);
    console.log(`[editor] edit 1: mean |result - input| = ${diff.toFixed(2)} (0..255)`);
    expect(diff).toBeGreaterThan(2);
    const p = await progressOf(page);
    expect([p.now, p.max]).toEqual([STEPS, STEPS]);
    expect(p.text).toMatch(new RegExp(`${STEPS}/${STEPS} steps, [\\d.]+ s`));
    // every step was shown on the way
    for (let i = 1; i <= STEPS; i++) expect([...seen], `step ${i}`).toContain(`${i}/${STEPS}`);
    expect(await page.getByTestId('entry-info').innerText()).toContain(`seed ${SEED}`);
    expect(await page.getByRole('slider', { name: 'Compare', exact: true }).count()).toBe(1);
  });

  it('Download gives the engine PNG: the shown pixels, the parameters in its text chunks', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), button('Download').click()]);
    expect(download.suggestedFilename()).toMatch(/\.png$/);
    const bytes = await readFile((await download.path())!);
    const meta = readPngText(new Uint8Array(bytes));
    expect(meta).toMatchObject({
      prompt: PROMPT,
      seed: String(SEED),
      steps: String(STEPS),
      text_guidance: String(TEXT_GUIDANCE),
      image_guidance: String(IMAGE_GUIDANCE),
      scheduler: 'euler-ancestral',
    });
    expect(meta.model).toMatch(/tiny-ip2p/);
    const png = PNG.sync.read(bytes);
    expect([png.width, png.height]).toEqual([64, 64]);
    expect(rgbOf({ rgba: png.data })).toEqual(rgbOf(firstResult));
  });

  it('gives the pixels the CLI computes for the same inputs (CPU reference)', async () => {
    const cli = await cliRun;
    expect([cli.width, cli.height]).toEqual([64, 64]);
    const a = rgbOf({ rgba: cli.data });
    const b = rgbOf(firstResult);
    const maxDiff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    console.log(`[editor] browser vs CLI (cpu): max |diff| = ${maxDiff}, mean = ${meanAbsDiff(a, b).toFixed(3)}`);
    // f32 on two backends: rounding to u8 may differ by a level where a value sits near a .5 boundary
    expect(maxDiff).toBeLessThanOrEqual(2);
  });

  it('Undo restores the input and Redo the result (buttons and Ctrl+Z / Ctrl+Shift+Z)', async () => {
    await button('Undo').click();
    await original().waitFor();
    expect(rgbOf(await canvasPixels(original()))).toEqual(fixtureRgb);
    await expect(edited().count()).resolves.toBe(0);
    await button('Redo').click();
    await edited().waitFor();
    expect((await canvasPixels(edited())).rgba).toEqual(firstResult.rgba);

    await page.locator('body').click({ position: { x: 2, y: 2 } }); // focus out of the text fields
    await page.keyboard.press('Control+z');
    await original().waitFor();
    await page.keyboard.press('Control+Shift+z');
    await edited().waitFor();
    expect((await canvasPixels(edited())).rgba).toEqual(firstResult.rgba);
  });

  it('the same seed from the same image gives the same pixels (Ctrl+Enter edits)', async () => {
    await button('Undo').click();
    await original().waitFor();
    await page.keyboard.press('Control+Enter');
    await edited().waitFor({ timeout: 120_000 });
    expect((await canvasPixels(edited())).rgba).toEqual(firstResult.rgba);
  });

  it('chains edits: the next edit starts from the result, and the history strip shows each step', async () => {
    await page.getByLabel('Instruction', { exact: true }).fill('make it look like winter');
    await page.getByLabel('Steps', { exact: true }).fill('1');
    await button('Edit').click();
    await page.getByRole('button', { name: /^3\. Edit: make it look like winter$/ }).waitFor({ timeout: 120_000 });
    const thumbs = page.getByRole('navigation', { name: 'History' }).getByRole('button');
    await expect(thumbs.count()).resolves.toBe(3);
    expect(await thumbs.nth(2).getAttribute('aria-current')).toBe('true');
    const chained = await canvasPixels(edited());
    expect(meanAbsDiff(rgbOf(chained), rgbOf(firstResult))).toBeGreaterThan(0.5);
    // the thumbnail of the input goes back to it
    await thumbs.nth(0).click();
    await original().waitFor();
    await thumbs.nth(2).click();
    await edited().waitFor();
  });

  it('Cancel stops an edit at once and keeps the image and history', async () => {
    await page.getByLabel('Steps', { exact: true }).fill('20');
    await button('Edit').click();
    await button('Cancel').click();
    const note = page.locator('[data-code=cancelled]');
    await note.waitFor();
    expect(await note.innerText()).toMatch(/Edit cancelled/);
    const p = await progressOf(page);
    expect(p.text).toMatch(/^Stopped/);
    expect(p.now).toBeLessThan(20);
    const thumbs = page.getByRole('navigation', { name: 'History' }).getByRole('button');
    await expect(thumbs.count()).resolves.toBe(3);
    await expect(edited().count()).resolves.toBe(1);
    await expect(button('Edit').isEnabled()).resolves.toBe(true);
  });

  it('looks right at 1280x800 and 390x844 (screenshots for a human look) and never spills sideways', async () => {
    await page.locator('[data-code=cancelled]').getByRole('button', { name: /^Dismiss/ }).click();
    await setRange(page.getByRole('slider', { name: 'Compare', exact: true }), 40);
    await page.screenshot({ path: artifactPath('editor-1280.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.evaluate(() => window.scrollTo(0, 0));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: artifactPath('editor-390-top.png') });
    await edited().evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await page.screenshot({ path: artifactPath('editor-390-canvas.png') });
    await page.getByLabel('Instruction', { exact: true }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: artifactPath('editor-390-controls.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    expect(errors).toEqual([]);
  });

  it('the Storage panel lists what the engine cached (the bundled model is read, not cached)', async () => {
    await button('Storage').click();
    const dialog = page.getByRole('dialog', { name: 'Storage' });
    await dialog.waitFor();
    const panel = dialog.getByTestId('storage-panel');
    await panel.getByText(/Nothing is cached yet|In all:/).waitFor();
    expect(await panel.innerText()).toMatch(/This site uses .* of the .* the browser grants it/);
    await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  });
});
