// The bar across the top: the name, which model is loaded, and the Storage and About this GPU panels.
import { useStore } from '../store/index.ts';
import { Logo } from './Logo.tsx';

function ModelChip() {
  const state = useStore((s) => s.modelState);
  const info = useStore((s) => s.modelInfo);
  const gpu = useStore((s) => s.gpu);
  let text: string;
  let tone: 'ok' | 'busy' | 'bad' | 'idle' = 'idle';
  if (gpu === 'unavailable' || gpu === 'failed') [text, tone] = ['No WebGPU', 'bad'];
  else if (state === 'ready' && info) [text, tone] = [info.label, 'ok'];
  else if (state === 'loading') [text, tone] = ['Loading model…', 'busy'];
  else if (gpu === 'checking') [text, tone] = ['Starting GPU…', 'busy'];
  else text = 'No model loaded';
  return (
    <span className={`status-chip status-${tone}`} data-testid="model-status">
      {text}
    </span>
  );
}

export function TopBar() {
  const setDialog = useStore((s) => s.setDialog);
  return (
    <header className="topbar">
      <Logo />
      <span className="brand">Retouch</span>
      <ModelChip />
      <nav className="topbar-actions" aria-label="Panels">
        <button type="button" className="btn btn-ghost" onClick={() => setDialog('storage')}>
          Storage
        </button>
        <button type="button" className="btn btn-ghost" onClick={() => setDialog('about')}>
          About this GPU
        </button>
      </nav>
    </header>
  );
}
