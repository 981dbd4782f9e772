// About this GPU: what the engine's worker reports, and the full adapter panel (features and limits that bound
// model size), which asks the page for its own device only when opened.
import { useStore } from '../store/index.ts';
import { AdapterInfo } from '../AdapterInfo.tsx';
import { Dialog } from './Dialog.tsx';
import { WebGpuHelp } from './WebGpuHelp.tsx';

function EngineLine() {
  const adapter = useStore((s) => s.adapter);
  const gpu = useStore((s) => s.gpu);
  const reason = useStore((s) => s.gpuReason);
  if (gpu === 'ready' && adapter) return <p className="small muted" data-testid="engine-adapter">Engine worker: {adapter.description}</p>;
  if (gpu === 'unavailable') return <WebGpuHelp />;
  if (gpu === 'failed') return <p className="notice notice-bad">{reason}</p>;
  return <p className="muted">Starting the engine…</p>;
}

export function AboutGpu() {
  return (
    <Dialog name="about" title="About this GPU">
      <EngineLine />
      <AdapterInfo />
    </Dialog>
  );
}
