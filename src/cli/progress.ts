// Progress on stderr for long CLI commands: a bar redrawn in place on a terminal, plain lines when stderr is a
// pipe or a file (logs, tests), so stdout stays clean for the results.

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Redraw in place (default: whether the stream is a TTY). */
  tty?: boolean;
  /** Milliseconds clock (tests pass their own). */
  now?: () => number;
}

/** 3.2s, 1m05s, 1h02m. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private label = '';
  private start = 0;
  /** When the first unit finished: later units give the rate (the first one carries shader compilation). */
  private firstDone: number | null = null;
  private open = false;
  private lastPlain = -1;

  constructor(o: ProgressOptions = {}) {
    this.stream = o.stream ?? process.stderr;
    this.tty = o.tty ?? Boolean(this.stream.isTTY);
    this.now = o.now ?? (() => performance.now());
  }

  /** A one-off message on its own line (ends any bar in progress). */
  note(text: string): void {
    this.end();
    this.stream.write(text + '\n');
  }

  /** Starts a counted phase: `label` then done/total (steps, or bytes with `unit` 'bytes'). */
  begin(label: string): void {
    this.end();
    this.label = label;
    this.start = this.now();
    this.firstDone = null;
    this.lastPlain = -1;
  }

  update(done: number, total: number, unit: 'steps' | 'bytes' = 'steps'): void {
    const t = this.now();
    if (done >= 1 && this.firstDone === null) this.firstDone = t;
    const elapsed = t - this.start;
    let eta = '';
    if (done > 0 && done < total) {
      const rate = done > 1 && this.firstDone !== null ? (t - this.firstDone) / (done - 1) : elapsed / done;
      eta = `  eta ${formatDuration(rate * (total - done))}`;
    }
    const count = unit === 'bytes' ? `${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB` : `${done}/${total}`;
    const text = `${count}  ${formatDuration(elapsed)}${eta}`;
    if (this.tty) {
      const width = 24;
      const filled = total > 0 ? Math.round((width * Math.min(done, total)) / total) : width;
      this.stream.write(`\r\x1b[2K${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
      this.open = true;
      return;
    }
    // Plain lines: every step, but bytes only at each quarter, so a log is not flooded.
    const mark = unit === 'bytes' ? Math.floor((4 * done) / Math.max(1, total)) : done;
    if (mark === this.lastPlain) return;
    this.lastPlain = mark;
    this.stream.write(`${this.label} ${text}\n`);
  }

  /** Finishes the bar line (no-op in plain mode). */
  end(): void {
    if (this.open) this.stream.write('\n');
    this.open = false;
  }
}
