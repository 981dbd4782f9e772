// The editor page: controls on the left, the large canvas with its toolbar, progress and history on the right
// (one column on phones). Page-wide input lives here: drop and paste of images, and the keyboard shortcuts.
import { useEffect, useState } from 'react';
import { getState } from './store/index.ts';
import { initEngine } from './store/actions/init_engine.ts';
import { openImage } from './store/actions/open_image.ts';
import { runEdit } from './store/actions/run_edit.ts';
import { redo, undo } from './store/actions/history.ts';
import { TopBar } from './components/TopBar.tsx';
import { ModelPanel } from './components/ModelPanel.tsx';
import { ImagePanel } from './components/ImagePanel.tsx';
import { InstructionPanel } from './components/InstructionPanel.tsx';
import { SettingsPanel } from './components/SettingsPanel.tsx';
import { ActionBar } from './components/ActionBar.tsx';
import { Tips } from './components/Tips.tsx';
import { Notices } from './components/Notices.tsx';
import { Toolbar } from './components/Toolbar.tsx';
import { Stage } from './components/Stage.tsx';
import { ProgressBar } from './components/ProgressBar.tsx';
import { HistoryStrip } from './components/HistoryStrip.tsx';
import { StoragePanel } from './components/StoragePanel.tsx';
import { AboutGpu } from './components/AboutGpu.tsx';

const isTextField = (t: EventTarget | null): boolean =>
  t instanceof HTMLTextAreaElement || (t instanceof HTMLInputElement && /^(text|search|url|number|email|password|)$/.test(t.type));

function useShortcuts(): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || e.altKey || getState().dialog) return;
      if (e.key === 'Enter') {
        e.preventDefault();
        void runEdit();
      } else if (e.key.toLowerCase() === 'z' && !isTextField(e.target)) {
        // inside a text field Ctrl+Z stays the field's own text undo
        e.preventDefault();
        if (e.shiftKey) redo();
        else undo();
      } else if (e.key.toLowerCase() === 'y' && !e.metaKey && !isTextField(e.target)) {
        e.preventDefault();
        redo();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

/** Drop a photo anywhere, or paste one: both reach the same openImage as the "Image" input. */
function useDropAndPaste(): boolean {
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes('Files');
    const enter = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth++;
      setDragging(true);
    };
    const leave = (e: DragEvent) => {
      if (!hasFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setDragging(false);
    };
    const over = (e: DragEvent) => {
      if (hasFiles(e)) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      depth = 0;
      setDragging(false);
      if (!hasFiles(e)) return;
      e.preventDefault();
      const f = e.dataTransfer?.files[0];
      if (f) void openImage(f, f.name);
    };
    const paste = (e: ClipboardEvent) => {
      const file = [...(e.clipboardData?.files ?? [])].find((f) => f.type.startsWith('image/')) ?? null;
      if (!file) return; // plain text pastes into the focused field as usual
      e.preventDefault();
      void openImage(file, file.name && file.name !== 'image.png' ? file.name : 'pasted image');
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    window.addEventListener('paste', paste);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
      window.removeEventListener('paste', paste);
    };
  }, []);
  return dragging;
}

export function App() {
  useEffect(() => void initEngine(), []);
  useShortcuts();
  const dragging = useDropAndPaste();
  return (
    <div className="app">
      <TopBar />
      <div className="workspace">
        <aside className="controls" aria-label="Controls">
          <ModelPanel />
          <ImagePanel />
          <InstructionPanel />
          <SettingsPanel />
          <ActionBar />
          <Tips />
        </aside>
        <main className="canvas-area">
          <Notices />
          <Toolbar />
          <Stage />
          <ProgressBar />
          <HistoryStrip />
        </main>
      </div>
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          <p>Drop the photo to open it</p>
        </div>
      )}
      <StoragePanel />
      <AboutGpu />
    </div>
  );
}
