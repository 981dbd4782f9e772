// Helpers for suites: where a suite runs (page or worker), and a device's limits as plain JSON.

export function realm(): 'worker' | 'window' {
  return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined' &&
    typeof (globalThis as { document?: unknown }).document === 'undefined'
    ? 'worker'
    : 'window';
}

/** Every limit the device reports (GPUSupportedLimits exposes them as enumerable getters). */
export function limitsJson(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k in limits) {
    const v = (limits as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}
