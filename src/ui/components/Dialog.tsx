// A modal <dialog> driven by the store's `dialog` field: Escape and the Close button both close it.
import { useEffect, useRef, type ReactNode } from 'react';
import { useStore } from '../store/index.ts';
import type { UiSlice } from '../store/ui_slice.ts';

export function Dialog({ name, title, children }: { name: NonNullable<UiSlice['dialog']>; title: string; children: ReactNode }) {
  const open = useStore((s) => s.dialog === name);
  const setDialog = useStore((s) => s.setDialog);
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby={`${name}-title`} onClose={() => setDialog(null)}>
      <header className="dialog-head">
        <h2 id={`${name}-title`}>{title}</h2>
        <button type="button" className="btn btn-ghost" onClick={() => setDialog(null)}>
          Close
        </button>
      </header>
      <div className="dialog-body">{open && children}</div>
    </dialog>
  );
}
