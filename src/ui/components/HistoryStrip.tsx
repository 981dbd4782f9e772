// The history as thumbnails, oldest first: click one to go back to it (the next edit then starts from it).
import { useEffect, useRef } from 'react';
import { drawScaled } from '../image_io.ts';
import { useStore } from '../store/index.ts';
import type { HistoryEntry } from '../store/history_slice.ts';
import { jumpTo } from '../store/actions/history.ts';

function Thumb({ entry }: { entry: HistoryEntry }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const s = 120 / Math.max(entry.image.width, entry.image.height);
    c.width = Math.max(1, Math.round(entry.image.width * s));
    c.height = Math.max(1, Math.round(entry.image.height * s));
    drawScaled(c, entry.image);
  }, [entry]);
  return <canvas ref={ref} aria-hidden="true" />;
}

export function HistoryStrip() {
  const entries = useStore((s) => s.entries);
  const index = useStore((s) => s.index);
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    list.current?.querySelector('[aria-current="true"]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [index, entries]);
  if (entries.length === 0) return null;
  return (
    <nav className="history" aria-label="History">
      <ol ref={list}>
        {entries.map((e, i) => (
          <li key={e.id} className={i > index ? 'ahead' : undefined}>
            <button
              type="button"
              className="thumb"
              aria-current={i === index ? 'true' : undefined}
              aria-label={`${i + 1}. ${e.kind === 'edit' ? `Edit: ${e.title}` : `Photo: ${e.title}`}`}
              title={e.title}
              onClick={() => jumpTo(i)}
            >
              <Thumb entry={e} />
              <span className="thumb-label">{e.kind === 'edit' ? e.title : 'Original'}</span>
            </button>
          </li>
        ))}
      </ol>
    </nav>
  );
}
