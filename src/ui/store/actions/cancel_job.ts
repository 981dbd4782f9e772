// Cancel, at any moment: the running edit stops between steps, a download stops and keeps what it fetched.
import { getState } from '../index.ts';

export function cancelJob(): void {
  getState().job?.controller.abort();
}
