// The instruction: a textarea with the n/75 token counter under it (the model reads 75 tokens; the rest is cut),
// a warning when it asks for what InstructPix2Pix does badly, and example instructions to start from.
import { useEffect, useId } from 'react';
import { EXAMPLE_INSTRUCTIONS } from '../examples.ts';
import { instructionWarnings } from '../warnings.ts';
import { useStore } from '../store/index.ts';
import { MAX_TOKENS } from '../store/params_slice.ts';
import { countTokens } from '../store/actions/count_tokens.ts';

function TokenCounter() {
  const tokens = useStore((s) => s.tokens);
  const prompt = useStore((s) => s.prompt);
  const canCount = useStore((s) => s.modelState === 'ready' || s.planState === 'ready');
  useEffect(() => {
    const t = setTimeout(() => void countTokens(), 150);
    return () => clearTimeout(t);
  }, [prompt, canCount]);
  const over = tokens !== null && tokens > MAX_TOKENS;
  return (
    <p className={over ? 'counter counter-over' : 'counter'} data-testid="token-counter" title="Tokens the text encoder reads (at most 75)">
      <span aria-live="polite">
        {tokens ?? '–'}/{MAX_TOKENS}
      </span>
      {over && <span> · words past the 75th token are ignored</span>}
      {tokens === null && <span className="muted"> tokens (counted once a model is chosen)</span>}
    </p>
  );
}

export function InstructionPanel() {
  const prompt = useStore((s) => s.prompt);
  const setParams = useStore((s) => s.setParams);
  const id = useId();
  const warnings = instructionWarnings(prompt);
  return (
    <section className="card">
      <h2 id={`${id}-h`} className="card-title">
        <label htmlFor={`${id}-text`}>Instruction</label>
      </h2>
      <textarea
        id={`${id}-text`}
        rows={3}
        placeholder="Say what to change, e.g. “make it a watercolor painting”"
        value={prompt}
        aria-describedby={warnings.length ? `${id}-warn` : undefined}
        aria-keyshortcuts="Control+Enter Meta+Enter"
        onChange={(e) => setParams({ prompt: e.target.value })}
      />
      <TokenCounter />
      {warnings.length > 0 && (
        <div id={`${id}-warn`} className="warn" role="note" data-testid="instruction-warning">
          <strong>This may not work well:</strong>
          <ul>
            {warnings.map((w) => (
              <li key={w.kind} data-kind={w.kind}>
                {w.text}
              </li>
            ))}
          </ul>
        </div>
      )}
      <ul className="chips-row" aria-label="Example instructions">
        {EXAMPLE_INSTRUCTIONS.map((t) => (
          <li key={t}>
            <button type="button" className="chip-btn" onClick={() => setParams({ prompt: t })}>
              {t}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
