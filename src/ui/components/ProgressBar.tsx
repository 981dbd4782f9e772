// The "Progress" bar of the edit: step i/N and elapsed time, painted straight into the DOM from transient store
// updates (and a clock while running), so a step never re-renders React.
import { useEffect, useRef } from 'react';
import { formatMs, plural } from '../format.ts';
import { useStore, type Store } from '../store/index.ts';

const STAGE_WORDS = { encode: 'Reading the image and instruction', denoise: 'Editing', decode: 'Decoding the result' } as const;

export function ProgressBar() {
  const bar = useRef<HTMLDivElement>(null);
  const fill = useRef<HTMLDivElement>(null);
  const text = useRef<HTMLSpanElement>(null);
  const time = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    let clock: ReturnType<typeof setInterval> | null = null;
    const paint = (s: Store) => {
      const el = bar.current;
      if (!el) return;
      const running = s.job?.kind === 'edit';
      const p = s.progress;
      const steps = running ? (p?.steps ?? s.job!.steps ?? s.steps) : (s.lastRun?.steps ?? s.steps);
      const done = running ? (p?.step ?? 0) : s.lastRun?.ok ? s.lastRun.steps : (p?.step ?? 0);
      el.setAttribute('aria-valuemax', String(steps));
      el.setAttribute('aria-valuenow', String(done));
      el.dataset.state = running ? 'running' : s.lastRun ? (s.lastRun.ok ? 'done' : 'stopped') : 'idle';
      fill.current!.style.width = `${steps ? (100 * done) / steps : 0}%`;
      let words: string;
      if (running) words = `${p ? STAGE_WORDS[p.stage] : 'Starting'} · step ${done}/${steps}`;
      else if (s.lastRun?.ok) words = `Done · ${done}/${plural(steps, 'step')}`;
      else if (s.lastRun) words = `Stopped at step ${done}/${steps}`;
      else words = `Ready · ${plural(steps, 'step')}`;
      text.current!.textContent = words;
      const ms = running ? performance.now() - s.job!.startedAt : (s.lastRun?.ms ?? null);
      time.current!.textContent = ms === null ? '' : formatMs(ms);
      el.setAttribute('aria-valuetext', `${words}${ms === null ? '' : `, ${formatMs(ms)}`}`);
      if (running && !clock) clock = setInterval(() => paint(useStore.getState()), 200);
      if (!running && clock) {
        clearInterval(clock);
        clock = null;
      }
    };
    paint(useStore.getState());
    const unsub = useStore.subscribe((s, prev) => {
      if (s.progress !== prev.progress || s.job !== prev.job || s.lastRun !== prev.lastRun || s.steps !== prev.steps) paint(s);
    });
    return () => {
      unsub();
      if (clock) clearInterval(clock);
    };
  }, []);
  return (
    <div className="progress">
      <div ref={bar} className="bar" role="progressbar" aria-label="Progress" aria-valuemin={0} aria-valuemax={20} aria-valuenow={0}>
        <div ref={fill} className="bar-fill" />
      </div>
      <p className="progress-line" aria-hidden="true">
        <span ref={text} />
        <span ref={time} className="progress-time" />
      </p>
    </div>
  );
}
