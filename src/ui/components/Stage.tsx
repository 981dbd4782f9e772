// The large canvas: the shown history entry at its own resolution (CSS fits it to the stage), the image it was
// made from underneath for the before/after "Compare" slider, and the live latent preview drawn over it on every
// step by a transient store subscription (no React render per step).
import { useEffect, useRef, useState } from 'react';
import { drawRgba, drawScaled } from '../image_io.ts';
import { useStore } from '../store/index.ts';
import { currentEntry, parentEntry } from '../store/history_slice.ts';
import type { PreviewImage } from '../engine.ts';

function LivePreview() {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const step = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    const paint = (img: PreviewImage | null, running: boolean) => {
      if (!wrap.current || !canvas.current) return;
      if (!img || !running) {
        wrap.current.hidden = true;
        return;
      }
      drawRgba(canvas.current, img);
      const p = useStore.getState().progress;
      step.current!.textContent = p ? `Live preview · step ${p.step}/${p.steps}` : 'Live preview';
      wrap.current.hidden = false;
    };
    return useStore.subscribe((s, prev) => {
      if (s.preview !== prev.preview || (s.job === null) !== (prev.job === null)) paint(s.preview, s.job?.kind === 'edit');
    });
  }, []);
  return (
    <div ref={wrap} className="live-preview" hidden>
      <canvas ref={canvas} aria-hidden="true" />
      <span ref={step} className="stage-badge badge-live" />
    </div>
  );
}

function EmptyStage() {
  return (
    <div className="stage-empty">
      <svg viewBox="0 0 24 24" aria-hidden="true">
        <path d="M4 16l4.5-4.5a2 2 0 0 1 2.8 0L16 16m-2-2 1.5-1.5a2 2 0 0 1 2.8 0L20 14M6 20h12a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2Zm9-12h.01" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <p className="stage-empty-title">Drop a photo anywhere</p>
      <p className="muted">or choose one under Image, paste it, or start from an example.</p>
    </div>
  );
}

export function Stage() {
  const entry = useStore((s) => currentEntry(s));
  const parent = useStore((s) => parentEntry(s, currentEntry(s)));
  const [compare, setCompare] = useState(0);
  const after = useRef<HTMLCanvasElement>(null);
  const before = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    if (entry && after.current) drawRgba(after.current, entry.image);
    setCompare(0); // a new picture: show all of it
  }, [entry]);
  useEffect(() => {
    if (!entry || !parent || !before.current) return;
    before.current.width = entry.image.width; // the "before" stretched to the result's grid (same aspect)
    before.current.height = entry.image.height;
    drawScaled(before.current, parent.image);
  }, [entry, parent]);

  if (!entry) {
    return (
      <div className="stage">
        <EmptyStage />
        <LivePreview />
      </div>
    );
  }
  const edited = entry.kind === 'edit';
  const ar = entry.image.width / entry.image.height;
  return (
    <div className="stage">
      <div className="frame" style={{ '--ar': ar, '--split': `${compare}%` } as React.CSSProperties}>
        {edited && parent && <canvas ref={before} className="layer layer-before" aria-hidden="true" />}
        <canvas
          ref={after}
          className={edited && parent ? 'layer layer-after' : 'layer'}
          role="img"
          aria-label={edited ? 'Edited image' : 'Original image'}
          data-entry={entry.id}
        />
        <LivePreview />
        {edited && parent && (
          <>
            <div className="split-line" aria-hidden="true">
              <span className="split-knob" />
            </div>
            <span className="stage-badge badge-before" aria-hidden="true" style={{ opacity: compare > 8 ? 1 : 0 }}>
              Before
            </span>
            <span className="stage-badge badge-after" aria-hidden="true" style={{ opacity: compare < 92 ? 1 : 0 }}>
              After
            </span>
            <input
              type="range"
              className="compare-range"
              aria-label="Compare"
              aria-valuetext={compare === 0 ? 'showing the edited image' : `original on the left ${compare}%`}
              min={0}
              max={100}
              step={1}
              value={compare}
              onChange={(e) => setCompare(Number(e.target.value))}
            />
          </>
        )}
      </div>
    </div>
  );
}
