// Deterministic Gaussian noise: the same seed gives the same numbers on every machine, in Node and in every browser.
//
// How: xoshiro128** (32-bit integer ops only: Math.imul, shifts, xor — exact everywhere) seeded through splitmix32
// from (seed, stream); uniforms u in (0, 1) from 24-bit draws; normals by the Marsaglia polar method, which needs
// only +, *, /, sqrt (correctly rounded in IEEE 754, so identical everywhere) and a natural log that we compute
// ourselves from those same operations (Math.log may differ by an ulp between engines). Values are rounded to f32.
//
// Streams: the pipeline uses stream 0 for the initial latents and stream i+1 for the noise of step i, so a step's
// noise does not depend on how much noise earlier steps drew.

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

export class Xoshiro128 {
  private s = new Uint32Array(4);

  constructor(seed: number, stream = 0) {
    // Fold a 53-bit seed and a stream number into the splitmix state.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    let st = lo ^ Math.imul(hi, 0x27d4eb2f) ^ Math.imul(stream + 1, 0x165667b1);
    for (let i = 0; i < 4; i++) {
      const [next, v] = splitmix32(st);
      st = next;
      this.s[i] = v;
    }
    if (!(this.s[0] | this.s[1] | this.s[2] | this.s[3])) this.s[0] = 1;
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in the open interval (0, 1) with 24 bits. */
  nextUniform(): number {
    return ((this.nextU32() >>> 8) + 0.5) / 16777216;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

const LN2 = 0.6931471805599453;

/** ln(x) for x > 0 from +, *, / only: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh((m-1)/(m+1)). */
export function detLog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  let e = 0;
  let m = x;
  while (m >= Math.SQRT2) {
    m *= 0.5;
    e++;
  }
  while (m < Math.SQRT1_2) {
    m *= 2;
    e--;
  }
  const z = (m - 1) / (m + 1);
  const z2 = z * z;
  // atanh series: |z| <= 0.1716, z^2 <= 0.0295: 14 terms reach far below 1 ulp.
  let term = z;
  let sum = 0;
  for (let k = 1; k <= 29; k += 2) {
    sum += term / k;
    term *= z2;
  }
  return 2 * sum + e * LN2;
}

/** Fills `out` with N(0, 1) samples as f32 values. */
export function fillGaussian(out: Float32Array, seed: number, stream = 0): Float32Array {
  const rng = new Xoshiro128(seed, stream);
  let i = 0;
  while (i < out.length) {
    let u: number, v: number, s: number;
    do {
      u = 2 * rng.nextUniform() - 1;
      v = 2 * rng.nextUniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * detLog(s)) / s);
    out[i++] = u * f;
    if (i < out.length) out[i++] = v * f;
  }
  return out;
}

export function gaussian(n: number, seed: number, stream = 0): Float32Array {
  return fillGaussian(new Float32Array(n), seed, stream);
}

/** A seed for "Randomize": 32 random bits from the platform's crypto source where present. */
export function randomSeed(): number {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c?.getRandomValues) return c.getRandomValues(new Uint32Array(1))[0];
  return Math.floor(Math.random() * 2 ** 32);
}
