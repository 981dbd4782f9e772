// Folds a 1D launch of n invocations into a 2D grid of workgroups so no dimension exceeds 65535.
// Shaders recover the flat index as gid.y * row + gid.x, with `row` passed in Params.

export function grid1d(n: number, wg: number): { groups: [number, number]; row: number } {
  const total = Math.ceil(n / wg);
  if (total <= 65535) return { groups: [Math.max(total, 1), 1], row: Math.max(total, 1) * wg };
  const x = 65535;
  return { groups: [x, Math.ceil(total / x)], row: x * wg };
}
