// Seeded test data shared by the kernel tests, so every file draws the same reproducible values without a RNG package.

/** n values uniform in offset +- scale (a mulberry32-style hash of the index sequence from `seed`). */
export function rand(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale + offset;
  }
  return out;
}
