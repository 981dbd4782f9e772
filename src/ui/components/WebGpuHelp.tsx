// Which browsers run WebGPU and the flag or setting that turns it on where it is not on by default.
export function WebGpuHelp() {
  const insecure = typeof window !== 'undefined' && !window.isSecureContext;
  return (
    <div className="webgpu-help">
      {insecure && (
        <p className="notice notice-bad">
          This page is not a secure context: WebGPU needs <code>https://</code> or <code>http://localhost</code>.
        </p>
      )}
      <WebGpuBrowsers />
      <p className="muted small">
        Still nothing? Check <code>chrome://gpu</code> for “WebGPU: Hardware accelerated”; a blocklisted driver can turn
        it off.
      </p>
    </div>
  );
}

/** Which browsers have WebGPU and the flag to set where it is off (shared with the About-this-GPU panel). */
export function WebGpuBrowsers() {
  return (
  <ul className="browsers">
    <li>
      <strong>Chrome, Edge</strong> 113 or newer: on by default on Windows, macOS and ChromeOS (Android 121+). On
      Linux, enable <code>chrome://flags/#enable-unsafe-webgpu</code> (and, for some GPUs,{' '}
      <code>chrome://flags/#enable-vulkan</code>), then restart the browser.
    </li>
    <li>
      <strong>Firefox</strong> 141 or newer on Windows; elsewhere set <code>dom.webgpu.enabled</code> to{' '}
      <code>true</code> in <code>about:config</code>.
    </li>
    <li>
      <strong>Safari</strong> 26 or newer; on earlier versions turn on WebGPU under Develop › Feature Flags.
    </li>
  </ul>
  );
}
