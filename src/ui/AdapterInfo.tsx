// Shows what WebGPU gave us (adapter, features, the limits that bound model size) or why there is no WebGPU.
import { WebGpuUnavailableError, type GpuContext } from '../engine/gpu/device.ts';
import { useGpu } from './gpu.ts';
import { WebGpuBrowsers } from './components/WebGpuHelp.tsx';

/** The limits that decide which tensors fit in one binding and how kernels can tile. */
const KEY_LIMITS: { name: keyof GPUSupportedLimits & string; bytes?: boolean; note: string }[] = [
  { name: 'maxStorageBufferBindingSize', bytes: true, note: 'largest tensor one kernel can bind' },
  { name: 'maxBufferSize', bytes: true, note: 'largest single buffer' },
  { name: 'maxComputeWorkgroupStorageSize', bytes: true, note: 'shared memory per workgroup' },
  { name: 'maxComputeInvocationsPerWorkgroup', note: 'threads per workgroup' },
  { name: 'maxComputeWorkgroupSizeX', note: 'workgroup width' },
  { name: 'maxComputeWorkgroupSizeY', note: 'workgroup height' },
  { name: 'maxComputeWorkgroupsPerDimension', note: 'grid size per dimension' },
  { name: 'maxStorageBuffersPerShaderStage', note: 'storage bindings per kernel' },
];

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[u]}`;
}

/** Lets long camelCase limit names wrap between words on narrow screens. */
function camelBreaks(name: string) {
  return name.split(/(?=[A-Z])/).map((part, i) => (
    <span key={i}>
      {i > 0 && <wbr />}
      {part}
    </span>
  ));
}

function Ready({ ctx, lost }: { ctx: GpuContext; lost: string | null }) {
  const info = ctx.adapterInfo;
  const title = [info.vendor, info.architecture].filter(Boolean).join(' · ') || 'Unnamed adapter';
  const engineFeatures: [string, boolean][] = [
    ['shader-f16', ctx.features.shaderF16],
    ['subgroups', ctx.features.subgroups],
    ['timestamp-query', ctx.features.timestampQuery],
  ];
  const deviceFeatures = [...ctx.device.features].sort();
  const limits = ctx.device.limits;
  return (
    <section className="panel" data-testid="adapter-panel" aria-labelledby="adapter-title">
      <header className="panel-head">
        <div>
          <p className="eyebrow">WebGPU adapter</p>
          <h2 id="adapter-title" data-testid="adapter-name">
            {title}
          </h2>
        </div>
        <span className={lost ? 'pill pill-bad' : 'pill pill-ok'}>{lost ? 'Device lost' : 'Ready'}</span>
      </header>
      {lost && <p className="notice notice-bad">The GPU device was lost: {lost}. Reload the page to start again.</p>}

      <dl className="info">
        {(['vendor', 'architecture', 'device', 'description'] as const).map((k) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd className={info[k] ? '' : 'muted'}>{info[k] || 'not reported'}</dd>
          </div>
        ))}
      </dl>

      <h3>Features</h3>
      <ul className="chips" aria-label="features the engine uses">
        {engineFeatures.map(([name, on]) => (
          <li key={name} className={on ? 'chip chip-on' : 'chip chip-off'} data-feature={name} data-enabled={on}>
            <span className="dot" aria-hidden="true" />
            {name}
            <span className="sr-only">{on ? ' (enabled)' : ' (not available)'}</span>
          </li>
        ))}
      </ul>
      {deviceFeatures.length > 0 && (
        <p className="device-features">
          <span className="muted">Device features: </span>
          {deviceFeatures.join(', ')}
        </p>
      )}

      <h3>Limits</h3>
      <dl className="limits">
        {KEY_LIMITS.map(({ name, bytes, note }) => {
          const v = limits[name] as number;
          return (
            <div key={name} data-limit={name} data-value={v}>
              <dt>
                <code>{camelBreaks(name)}</code>
                <span className="note">{note}</span>
              </dt>
              <dd title={`${v.toLocaleString('en-US')}${bytes ? ' bytes' : ''}`}>
                {bytes ? formatBytes(v) : v.toLocaleString('en-US')}
              </dd>
            </div>
          );
        })}
      </dl>
    </section>
  );
}

function Missing({ error }: { error: Error }) {
  const insecure = typeof window !== 'undefined' && !window.isSecureContext;
  return (
    <section className="panel panel-bad" data-testid="webgpu-missing" role="alert">
      <header className="panel-head">
        <div>
          <p className="eyebrow">WebGPU adapter</p>
          <h2>WebGPU is not available</h2>
        </div>
        <span className="pill pill-bad">Unavailable</span>
      </header>
      <p>Retouch computes every step on your GPU through WebGPU, so it cannot run in this browser as it is set up now.</p>
      {insecure && (
        <p className="notice notice-bad">
          This page is not a secure context: WebGPU needs <code>https://</code> or <code>http://localhost</code>.
        </p>
      )}
      <WebGpuBrowsers />
      <details>
        <summary>Details</summary>
        <pre>{error.message}</pre>
      </details>
    </section>
  );
}

function Failed({ error }: { error: Error }) {
  return (
    <section className="panel panel-bad" data-testid="webgpu-failed" role="alert">
      <header className="panel-head">
        <div>
          <p className="eyebrow">WebGPU adapter</p>
          <h2>Could not start the GPU device</h2>
        </div>
        <span className="pill pill-bad">Error</span>
      </header>
      <p>The browser offers WebGPU, but requesting a device failed. Reloading the page or updating the graphics driver may help.</p>
      <pre>
        {error.name}: {error.message}
      </pre>
    </section>
  );
}

export function AdapterInfo() {
  const gpu = useGpu();
  if (gpu.status === 'pending') {
    return (
      <section className="panel panel-pending" aria-busy="true">
        <p className="eyebrow">WebGPU adapter</p>
        <p className="muted">Requesting a WebGPU device…</p>
      </section>
    );
  }
  if (gpu.status === 'failed') {
    return gpu.error instanceof WebGpuUnavailableError ? <Missing error={gpu.error} /> : <Failed error={gpu.error} />;
  }
  return <Ready ctx={gpu.ctx} lost={gpu.lost} />;
}
