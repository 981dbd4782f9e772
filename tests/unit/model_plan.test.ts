// The VAE activation bound used to keep every binding within the adapter's limit (numbers derived by hand).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { largestVaeActivation, maxSizeForBinding } from '../../src/worker/model_plan.ts';

const sd = JSON.parse(readFileSync('models/instruct-pix2pix/vae/config.json', 'utf8')).block_out_channels as number[];
const MIB128 = 128 * 2 ** 20;

describe('VAE activation size and the binding limit', () => {
  it('SD 1.5 VAE at 512x512: the decoder writes 256 channels at 512x512 (67,108,864 elements)', () => {
    expect(sd).toEqual([128, 256, 512, 512]);
    expect(largestVaeActivation(sd, 512, 512)).toBe(256 * 512 * 512);
    // at 256x256: still up_blocks.2's 256 channels at full resolution
    expect(largestVaeActivation(sd, 256, 256)).toBe(256 * 256 * 256);
  });

  it('f16 activations fit 512x512 in a 128 MiB binding exactly; f32 needs the side at or under 362 -> 360', () => {
    expect(maxSizeForBinding(sd, 512, 512, 512, MIB128, 2)).toBe(512);
    expect(maxSizeForBinding(sd, 512, 512, 512, MIB128, 4)).toBe(360); // 256 * 360^2 * 4 = 132.7 MB <= 134.2 MB
    expect(maxSizeForBinding(sd, 512, 512, 512, 2 ** 30, 4)).toBe(512); // a 1 GiB binding needs no change
    // 2:1 at 512 is 512x256: exactly 128 MiB in f32, so it fits as is
    expect(maxSizeForBinding(sd, 1024, 512, 512, MIB128, 4)).toBe(512);
    // 4:3 at 512 is 512x384 (192 MiB in f32): the long side is capped, the short side follows the aspect ratio
    const s = maxSizeForBinding(sd, 1024, 768, 512, MIB128, 4);
    expect(s).toBeLessThan(512);
    const h = Math.floor((768 * s) / 1024 / 8) * 8;
    expect(256 * s * h * 4).toBeLessThanOrEqual(MIB128);
    expect(256 * (s + 8) * (Math.floor((768 * (s + 8)) / 1024 / 8) * 8) * 4).toBeGreaterThan(MIB128);
  });

  it('the tiny test VAE (32 channels) never needs a cap at these sizes', () => {
    expect(maxSizeForBinding([32, 32, 32, 32], 512, 512, 512, MIB128, 4)).toBe(512);
  });
});
