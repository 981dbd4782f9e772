// Above the canvas: Undo and Redo through the history, Download of the shown result's PNG, and what it is.
import { useStore } from '../store/index.ts';
import { currentEntry } from '../store/history_slice.ts';
import { canRedo, canUndo, redo, undo } from '../store/actions/history.ts';
import { downloadResult } from '../store/actions/download_result.ts';
import { formatMs, plural } from '../format.ts';

function Icon({ d }: { d: string }) {
  return (
    <svg viewBox="0 0 24 24" className="icon" aria-hidden="true">
      <path d={d} fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

export function Toolbar() {
  const entry = useStore((s) => currentEntry(s));
  const undoable = useStore((s) => canUndo(s));
  const redoable = useStore((s) => canRedo(s));
  const mac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);
  const mod = mac ? '⌘' : 'Ctrl+';
  return (
    <div className="toolbar">
      <div className="toolbar-group">
        <button type="button" className="btn btn-tool" disabled={!undoable} onClick={undo} title={`Undo (${mod}Z)`} aria-keyshortcuts="Control+Z Meta+Z">
          <Icon d="M9 14 4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11" />
          Undo
        </button>
        <button type="button" className="btn btn-tool" disabled={!redoable} onClick={redo} title={`Redo (${mod}Shift+Z)`} aria-keyshortcuts="Control+Shift+Z Meta+Shift+Z">
          <Icon d="m15 14 5-5-5-5m5 5H9.5a5.5 5.5 0 0 0 0 11H13" />
          Redo
        </button>
      </div>
      <p className="toolbar-info" data-testid="entry-info">
        {entry &&
          (entry.kind === 'edit' && entry.params
            ? `${entry.image.width}×${entry.image.height} · seed ${entry.params.seed} · ${plural(entry.params.steps, 'step')}${entry.ms ? ` · ${formatMs(entry.ms)}` : ''}`
            : `${entry.title} · ${entry.image.width}×${entry.image.height}`)}
      </p>
      <button type="button" className="btn btn-tool btn-accent" disabled={!entry?.png} onClick={downloadResult} title="Download the edited PNG (its parameters are in the file)">
        <Icon d="M12 4v11m0 0-4-4m4 4 4-4M5 20h14" />
        Download
      </button>
    </div>
  );
}
