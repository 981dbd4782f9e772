// The live preview: a fixed linear map from the 4 SD latent channels to RGB, applied per latent pixel (no network).
// The coefficients are the commonly used least-squares fit for Stable Diffusion 1.x latents.
import type { RgbImage } from '../image/resize.ts';

const FACTORS = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/** latents [1,4,h,w] (host) -> RGB [h,w] at latent resolution. */
export function latentsToPreview(latents: Float32Array, h: number, w: number): RgbImage {
  const hw = h * w;
  const out = new Uint8Array(hw * 3);
  for (let i = 0; i < hw; i++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let k = 0; k < 4; k++) v += latents[k * hw + i] * FACTORS[k][c];
      out[i * 3 + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
    }
  }
  return { width: w, height: h, data: out };
}
