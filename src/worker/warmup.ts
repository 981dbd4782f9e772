// Compiles every GPU kernel at load time, so that no pipeline is created during an edit (on some adapters a
// pipeline takes most of a second to build).
import type { RgbImage } from '../engine/image/resize.ts';
import type { Backend } from '../engine/ops/ops.ts';
import type { InstructPix2PixPipeline } from '../engine/pipelines/pipeline_instruct_pix2pix.ts';
import { createScheduler, SCHEDULERS } from '../engine/schedulers/index.ts';

/** Compiles every kernel an edit can use before the first edit: one guided step of the whole pipeline on the
 * smallest gray image the networks take (text encoder, VAE encode and decode, the UNet at batch 3), then two steps
 * of every scheduler.
 * Kernels are keyed by shader and weight dtype, never by shape, so these cover edits of any size. */
export async function warmUp(pipe: InstructPix2PixPipeline, be: Backend): Promise<void> {
  const down = (channels: number[]) => 2 ** (channels.length - 1);
  const need = down(pipe.parts.vae.config.block_out_channels) * down(pipe.parts.unet.config.block_out_channels);
  const size = Math.max(8, Math.ceil(need / 8) * 8); // 64x64 for SD 1.x (an 8x8 latent, 1x1 at the UNet's bottom)
  const gray: RgbImage = { width: size, height: size, data: new Uint8Array(size * size * 3).fill(128) };
  await pipe.edit(gray, { prompt: '', steps: 1, seed: 0, maxSize: size }, { onPreview: () => {} });
  const shape = [1, 4, 8, 8];
  const n = 4 * 8 * 8;
  for (const name of SCHEDULERS) {
    const s = createScheduler(name, pipe.parts.schedulerConfig);
    s.setTimesteps(2);
    let x = be.fromArray(new Float32Array(n).fill(0.5), shape);
    for (let i = 0; i < 2; i++) {
      const eps = be.fromArray(new Float32Array(n).fill(0.1), shape);
      const noise = s.usesNoise(i) ? be.fromArray(new Float32Array(n), shape) : null;
      const next = s.step(be, i, eps, x, noise);
      be.release(eps);
      if (noise) be.release(noise);
      be.release(x);
      x = next;
    }
    await be.read(x);
    be.release(x);
    s.reset();
  }
}
