// Edit and Cancel, always in reach (sticky at the bottom of the controls); says why Edit is unavailable.
import { useId } from 'react';
import { useStore } from '../store/index.ts';
import { editBlocker, runEdit } from '../store/actions/run_edit.ts';
import { cancelJob } from '../store/actions/cancel_job.ts';

export function ActionBar() {
  const blocker = useStore((s) => editBlocker(s));
  const job = useStore((s) => s.job?.kind ?? null);
  const id = useId();
  const mac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform);
  return (
    <div className="actionbar">
      <div className="actionbar-buttons">
        <button
          type="button"
          className="btn btn-primary"
          disabled={blocker !== null}
          aria-describedby={`${id}-why`}
          aria-keyshortcuts="Control+Enter Meta+Enter"
          onClick={() => void runEdit()}
        >
          {job === 'edit' && <span className="spinner" aria-hidden="true" />}
          Edit
        </button>
        <button type="button" className="btn btn-secondary" disabled={job === null} onClick={cancelJob}>
          Cancel
        </button>
      </div>
      <p id={`${id}-why`} className="hint actionbar-hint">
        {blocker && job === null ? blocker : `${mac ? '⌘' : 'Ctrl'}+Enter edits · ${mac ? '⌘' : 'Ctrl'}+Z undoes`}
      </p>
    </div>
  );
}
