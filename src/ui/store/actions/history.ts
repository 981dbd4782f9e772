// Undo / redo walk the history; a thumbnail jumps to its entry. The next edit starts from whatever is shown.
import { getState, setState } from '../index.ts';

export function jumpTo(index: number): void {
  const { entries } = getState();
  if (index >= 0 && index < entries.length) setState({ index });
}

export const canUndo = (s = getState()): boolean => s.index > 0;
export const canRedo = (s = getState()): boolean => s.index < s.entries.length - 1;
export const undo = (): void => jumpTo(getState().index - 1);
export const redo = (): void => jumpTo(getState().index + 1);
