// The sinusoidal timestep embedding on the host, shared by both backends: it is tiny (N x dim) and its arguments
// reach ~1000 rad, where GPU sin/cos lose accuracy, so it is computed here in float32 as PyTorch does and uploaded.

const f = Math.fround;

/** f32 a * b + c with one rounding: a * b is exact in f64; a tie left by the f64 sum is broken by its error. */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b, s = p + c, bb = s - p, err = p - (s - bb) + (c - bb);
  const r = f(s);
  if (err === 0 || r === s) return r;
  const o = 2 * s - r; // the other f32 neighbour, when s sits exactly halfway between two
  return f(o) !== o ? r : err > 0 ? Math.max(r, o) : Math.min(r, o);
}

/**
 * PyTorch's f32 exp on the CPU (SLEEF expf_u10 with FMA, not always correctly rounded): the time_proj golden has a
 * frequency one ulp off the correctly rounded exp, which moves cos(999 * freq) by 1.7e-6.
 */
export function expfTorch(d: number): number {
  if (d < -104) return 0;
  if (d > 100) return Infinity;
  const x = f(d * f(Math.LOG2E));
  let q = Math.round(x);
  if (q - x === 0.5 && q % 2 !== 0) q -= 1; // round half to even
  let s = fmaf(q, -0.693145751953125, d);
  s = fmaf(q, -f(1.428606765330187045e-6), s);
  let u = f(0.000198527617612853646278381);
  for (const c of [0.00139304355252534151077271, 0.00833336077630519866943359, 0.0416664853692054748535156, 0.166666671633720397949219, 0.5]) {
    u = fmaf(u, s, f(c));
  }
  return f(f(1 + fmaf(f(s * s), u, s)) * 2 ** q);
}

/**
 * diffusers get_timestep_embedding on the host, rounded to f32 at every step as PyTorch does: exponent_i =
 * f32(-ln 10000) * i / (half - shift), freq = exp(exponent), arg = t * freq, [sin, cos] ([cos, sin] flipped),
 * an odd dim zero-padded. The arguments reach ~1000 rad, where GPU sin/cos lose accuracy, and the table is tiny.
 */
export function timestepTable(t: Float32Array, dim: number, flip: boolean, shift: number): Float32Array {
  const half = Math.floor(dim / 2);
  const negLog = f(-Math.log(10000));
  const freqs = Array.from({ length: half }, (_, i) => expfTorch(f(f(negLog * i) / f(half - shift))));
  const out = new Float32Array(t.length * dim); // [N, dim]
  t.forEach((tv, r) => {
    freqs.forEach((freq, i) => {
      const arg = f(f(tv) * freq);
      out[r * dim + i] = flip ? Math.cos(arg) : Math.sin(arg);
      out[r * dim + half + i] = flip ? Math.sin(arg) : Math.cos(arg);
    });
  });
  return out;
}
