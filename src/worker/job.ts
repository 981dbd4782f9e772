// The edit job as it comes off a message: checked field by field (bad-image / bad-request), and the RGB <-> RGBA
// conversions at the engine's edge (the engine computes on RGB; the page shows RGBA).
import { targetSize, type RgbImage } from '../engine/image/resize.ts';
import { SCHEDULERS } from '../engine/schedulers/index.ts';
import { EngineError, type EditJob, type PreviewImage } from './protocol.ts';

/** RGB -> RGBA, opaque. */
export function rgbaOf(img: RgbImage): PreviewImage {
  const n = img.width * img.height;
  const data = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    data[i * 4] = img.data[i * 3];
    data[i * 4 + 1] = img.data[i * 3 + 1];
    data[i * 4 + 2] = img.data[i * 3 + 2];
    data[i * 4 + 3] = 255;
  }
  return { width: img.width, height: img.height, data };
}

/** Throws the EngineError that says what is wrong with a job. */
export function checkJob(job: EditJob): void {
  const bad = (m: string) => new EngineError('bad-request', m);
  if (typeof job !== 'object' || job === null) throw bad('edit: expected a job object');
  const img = job.image;
  if (typeof img !== 'object' || img === null) throw new EngineError('bad-image', 'The edit has no image.');
  const { width, height } = img;
  const rgba: unknown = img.rgba; // off a message: check, do not trust the type
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new EngineError('bad-image', `The image size ${width}x${height} is not a positive whole number of pixels.`);
  }
  if (!(rgba instanceof Uint8ClampedArray || rgba instanceof Uint8Array) || rgba.length !== width * height * 4) {
    const got = rgba instanceof Object && 'length' in rgba ? `${String(rgba.length)} bytes` : typeof rgba;
    throw new EngineError('bad-image', `The image data is not RGBA of ${width}x${height} (${width * height * 4} bytes expected, got ${got}).`);
  }
  if (!Number.isInteger(job.maxSize) || job.maxSize < 8) throw bad(`edit: maxSize must be a whole number of at least 8, got ${job.maxSize}`);
  try {
    targetSize(width, height, job.maxSize);
  } catch (e) {
    throw new EngineError('bad-image', `The image is too small: ${(e as Error).message}.`);
  }
  if (typeof job.prompt !== 'string' || typeof job.negativePrompt !== 'string') throw bad('edit: prompt and negativePrompt must be strings');
  if (!Number.isInteger(job.steps) || job.steps < 1 || job.steps > 1000) throw bad(`edit: steps must be a whole number from 1 to 1000, got ${job.steps}`);
  for (const [k, v] of [['textGuidance', job.textGuidance], ['imageGuidance', job.imageGuidance]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw bad(`edit: ${k} must be a number of 0 or more, got ${v}`);
  }
  if (!Number.isSafeInteger(job.seed) || job.seed < 0) throw bad(`edit: seed must be a whole number of 0 or more, got ${job.seed}`);
  if (!(SCHEDULERS as readonly string[]).includes(job.scheduler)) {
    throw bad(`edit: unknown scheduler ${JSON.stringify(job.scheduler)} (one of ${SCHEDULERS.join(', ')})`);
  }
}
