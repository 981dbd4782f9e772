// The model load's progress bar (per file and overall, speed, time left), written straight into the DOM from
// transient store updates: a download's hundreds of progress events never re-render React.
import { useEffect, useRef } from 'react';
import { formatBytes, formatSeconds } from '../format.ts';
import { useStore } from '../store/index.ts';
import type { LoadProgress } from '../engine.ts';

function describeProgress(p: LoadProgress): { label: string; detail: string; fraction: number } {
  const fraction = p.totalBytes > 0 ? Math.min(1, p.loadedBytes / p.totalBytes) : 0;
  if (p.stage === 'download') {
    const parts = [`${formatBytes(p.loadedBytes)} of ${formatBytes(p.totalBytes)}`];
    if (p.bytesPerSecond) parts.push(`${formatBytes(p.bytesPerSecond)}/s`);
    if (p.etaSeconds !== undefined && Number.isFinite(p.etaSeconds)) parts.push(`${formatSeconds(p.etaSeconds)} left`);
    const file = p.file ? `${p.file}${p.fileTotal ? ` (${Math.round((100 * (p.fileLoaded ?? 0)) / p.fileTotal)}%)` : ''}` : '';
    return { label: 'Downloading', detail: [file, parts.join(' · ')].filter(Boolean).join(' — '), fraction };
  }
  if (p.stage === 'read') return { label: 'Reading weights', detail: p.file ?? `${formatBytes(p.loadedBytes)} of ${formatBytes(p.totalBytes)}`, fraction };
  if (p.stage === 'compile') return { label: 'Compiling GPU kernels', detail: p.message ?? '', fraction: 1 };
  return { label: 'Ready', detail: '', fraction: 1 };
}

/** The load's progress bar: written straight into the DOM on every event, no React render. */
export function LoadProgressBar() {
  const loading = useStore((s) => s.modelState === 'loading');
  const bar = useRef<HTMLDivElement>(null);
  const fill = useRef<HTMLDivElement>(null);
  const label = useRef<HTMLSpanElement>(null);
  const detail = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    const paint = (p: LoadProgress | null) => {
      if (!bar.current) return;
      const d = p ? describeProgress(p) : { label: 'Starting', detail: '', fraction: 0 };
      const pct = Math.round(d.fraction * 100);
      bar.current.setAttribute('aria-valuenow', String(pct));
      bar.current.setAttribute('aria-valuetext', `${d.label} ${pct}%${d.detail ? `: ${d.detail}` : ''}`);
      fill.current!.style.width = `${pct}%`;
      label.current!.textContent = `${d.label} · ${pct}%`;
      detail.current!.textContent = d.detail;
    };
    paint(useStore.getState().loadProgress);
    return useStore.subscribe((s, prev) => {
      if (s.loadProgress !== prev.loadProgress) paint(s.loadProgress);
    });
  }, [loading]);
  if (!loading) return null;
  return (
    <div className="load-progress">
      <div ref={bar} className="bar" role="progressbar" aria-label="Model download" aria-valuemin={0} aria-valuemax={100} aria-valuenow={0}>
        <div ref={fill} className="bar-fill" />
      </div>
      <p className="load-line">
        <span ref={label} className="load-label" />
        <span ref={detail} className="load-detail" />
      </p>
    </div>
  );
}

