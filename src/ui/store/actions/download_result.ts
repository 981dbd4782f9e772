// Download: the engine's PNG of the shown result, byte for byte (its text chunks hold the parameters).
import { getState } from '../index.ts';
import { currentEntry } from '../history_slice.ts';

export function resultFileName(prompt: string, seed: number): string {
  const slug = prompt.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'edit';
  return `retouch-${slug}-${seed}.png`;
}

export function downloadResult(): void {
  const e = currentEntry(getState());
  if (!e?.png || !e.params) return;
  const url = URL.createObjectURL(new Blob([e.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = resultFileName(e.params.prompt, e.params.seed);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
