// The n/75 counter under the instruction: the loaded model's own tokenizer counts, in the worker; the newest
// request wins and a stale answer is dropped.
import { engine } from '../../engine.ts';
import { getState, setState } from '../index.ts';

let ticket = 0;

export async function countTokens(): Promise<void> {
  const { prompt, gpu, planState, modelState } = getState();
  const mine = ++ticket;
  // the worker has a tokenizer once a model is planned or loaded
  if (gpu !== 'ready' || (planState !== 'ready' && modelState !== 'ready')) {
    setState({ tokens: null });
    return;
  }
  try {
    const n = await engine().tokenCount(prompt);
    if (mine === ticket) setState({ tokens: n });
  } catch {
    if (mine === ticket) setState({ tokens: null });
  }
}
