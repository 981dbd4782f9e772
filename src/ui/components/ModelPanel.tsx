// Choosing the model: the default InstructPix2Pix (its size said before any download), the bundled test model,
// another Hub repo (id, revision, variant, Hub base URL), a folder on disk, or a URL; then a click loads it.
import { useId } from 'react';
import { formatBytes } from '../format.ts';
import { useStore } from '../store/index.ts';
import { DEFAULT_REPO, DEFAULT_SIZE_TEXT, type ModelChoice } from '../store/model_slice.ts';
import { planModel, selectModel } from '../store/actions/select_model.ts';
import { loadModel } from '../store/actions/load_model.ts';
import { resolveSource } from '../store/actions/model_source.ts';
import { HubFields } from './HubFields.tsx';
import { LoadProgressBar } from './LoadProgress.tsx';

/** Lets a file input pick a folder; not in React's DOM types, supported by every current browser. */
const FOLDER_PICKER = { webkitdirectory: '', directory: '' } as Record<string, string>;

const CHOICES: { value: ModelChoice; label: string }[] = [
  { value: 'default', label: `InstructPix2Pix, fp16 (${DEFAULT_SIZE_TEXT})` },
  { value: 'tiny', label: 'tiny-ip2p (random weights, for testing)' },
  { value: 'hub', label: 'Another Hugging Face Hub repo…' },
  { value: 'folder', label: 'A model folder on this computer…' },
  { value: 'url', label: 'A model at a URL…' },
];

function PlanLine() {
  const choice = useStore((s) => s.modelChoice);
  const plan = useStore((s) => s.plan);
  const planState = useStore((s) => s.planState);
  const planError = useStore((s) => s.planError);
  const loaded = useStore((s) => s.modelState === 'ready' && s.loadedKey !== null && s.loadedKey === s.planKey);
  const info = useStore((s) => s.modelInfo);
  if (loaded && info) {
    return (
      <p className="plan plan-ok" data-testid="model-plan">
        Loaded: {info.label} · {formatBytes(info.sizeBytes)} · {info.dtype}
        {info.randomWeights && <span className="badge badge-warn">random weights</span>}
      </p>
    );
  }
  if (planState === 'pending') return <p className="plan muted">Checking the size…</p>;
  if (planState === 'ready' && plan) {
    const toFetch = plan.totalBytes - plan.cachedBytes;
    if (choice === 'tiny' || choice === 'folder') {
      return <p className="plan" data-testid="model-plan">{formatBytes(plan.totalBytes)} in {plan.files.length} files, read locally.</p>;
    }
    // The plan itself fetches the small config and tokenizer files, so those are always cached by now: only
    // weights already in the browser (an earlier, interrupted download) make "what is left" worth saying.
    const weightsCached = plan.files.some((f) => f.cached && f.path.endsWith('.safetensors'));
    return (
      <p className="plan" data-testid="model-plan">
        {toFetch <= 0 ? (
          <>Cached in this browser ({formatBytes(plan.totalBytes)}): loads from disk, offline too.</>
        ) : weightsCached ? (
          <>
            <strong>{formatBytes(toFetch)}</strong> left to download ({formatBytes(plan.cachedBytes)} of{' '}
            {formatBytes(plan.totalBytes)} already cached), once: after that it loads from this browser, offline too.
          </>
        ) : (
          <>
            <strong>{formatBytes(plan.totalBytes)}</strong> to download, once: after that it loads from this browser,
            offline too.
          </>
        )}
      </p>
    );
  }
  if (planError) return <p className="plan muted">{choice === 'default' ? `${DEFAULT_SIZE_TEXT} to download. ` : ''}{planError}</p>;
  if (choice === 'default') return <p className="plan">{DEFAULT_SIZE_TEXT} to download once, then cached.</p>;
  return null;
}

export function ModelPanel() {
  const choice = useStore((s) => s.modelChoice);
  const url = useStore((s) => s.modelUrl);
  const busy = useStore((s) => s.job !== null);
  const loading = useStore((s) => s.modelState === 'loading');
  const gpuOk = useStore((s) => s.gpu === 'ready');
  const sourceProblem = useStore((s) => {
    const r = resolveSource(s);
    return typeof r === 'string' ? r : null;
  });
  const fits = useStore((s) => s.plan?.fitsAdapter !== false);
  const loadedHere = useStore((s) => s.modelState === 'ready' && s.loadedKey !== null && s.loadedKey === s.planKey);
  const id = useId();
  return (
    <section className="card">
      <h2 id={`${id}-h`} className="card-title">
        <label htmlFor={`${id}-model`}>Model</label>
      </h2>
      <select id={`${id}-model`} value={choice} disabled={busy} onChange={(e) => void selectModel({ modelChoice: e.target.value as ModelChoice })}>
        {CHOICES.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
      </select>
      {choice === 'default' && !loadedHere && (
        <>
          <p className="plan-source">
            {DEFAULT_REPO} on the Hugging Face Hub, the authors' weights (fp16 files).
          </p>
          <HubFields showRepo={false} />
        </>
      )}
      {choice === 'hub' && !loadedHere && <HubFields showRepo />}
      {choice === 'folder' && (
        <div className="subfields">
          <label htmlFor={`${id}-folder`}>Model folder</label>
          <input
            id={`${id}-folder`}
            type="file"
            {...FOLDER_PICKER}
            multiple
            onChange={(e) => void selectModel({ folderFiles: e.target.files ? [...e.target.files] : null })}
          />
          <p className="hint">The diffusers folder: model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/.</p>
        </div>
      )}
      {choice === 'url' && (
        <div className="subfields">
          <label htmlFor={`${id}-url`}>Model URL</label>
          <input
            id={`${id}-url`}
            type="url"
            spellCheck={false}
            placeholder="https://example.org/models/instruct-pix2pix/"
            value={url}
            onChange={(e) => useStore.setState({ modelUrl: e.target.value })}
            onBlur={() => void planModel()}
          />
        </div>
      )}
      <PlanLine />
      <LoadProgressBar />
      {!loadedHere && !loading && (
        <button
          type="button"
          className="btn btn-secondary btn-wide"
          disabled={busy || !gpuOk || sourceProblem !== null || !fits}
          onClick={() => void loadModel()}
        >
          Load model
        </button>
      )}
    </section>
  );
}
