// The knobs: Text guidance and Image guidance (the two InstructPix2Pix scales), Steps, Seed with Randomize, and
// under More the working size, the sampler and a negative prompt.
import { useId } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/index.ts';
import { NumberField, Slider } from './Fields.tsx';
import type { Scheduler } from '../engine.ts';

const SIZES = [256, 384, 512, 640, 768, 1024];
const SAMPLERS: { value: Scheduler; label: string }[] = [
  { value: 'euler-ancestral', label: 'Euler ancestral' },
  { value: 'euler', label: 'Euler' },
  { value: 'ddim', label: 'DDIM' },
  { value: 'dpm++2m', label: 'DPM++ 2M' },
];

export function SettingsPanel() {
  const p = useStore(
    useShallow((s) => ({
      textGuidance: s.textGuidance,
      imageGuidance: s.imageGuidance,
      steps: s.steps,
      seed: s.seed,
      randomizeSeed: s.randomizeSeed,
      maxSize: s.maxSize,
      scheduler: s.scheduler,
      negativePrompt: s.negativePrompt,
      setParams: s.setParams,
    })),
  );
  const setParams = p.setParams;
  const id = useId();
  return (
    <section className="card">
      <h2 id={`${id}-h`} className="card-title">
        Settings
      </h2>
      <Slider
        label="Text guidance"
        value={p.textGuidance}
        min={1}
        max={20}
        step={0.5}
        format={(v) => v.toFixed(1)}
        hint="How strongly to follow the instruction."
        onChange={(v) => setParams({ textGuidance: v })}
      />
      <Slider
        label="Image guidance"
        value={p.imageGuidance}
        min={1}
        max={5}
        step={0.05}
        format={(v) => v.toFixed(2)}
        hint="How closely to keep the original photo."
        onChange={(v) => setParams({ imageGuidance: v })}
      />
      <div className="row2">
        <NumberField label="Steps" value={p.steps} min={1} max={100} onChange={(v) => setParams({ steps: v })} />
        <NumberField label="Seed" value={p.seed} min={0} max={2 ** 31 - 1} onChange={(v) => setParams({ seed: v, randomizeSeed: false })} />
      </div>
      <label className="check">
        <input type="checkbox" checked={p.randomizeSeed} onChange={(e) => setParams({ randomizeSeed: e.target.checked })} />
        Randomize seed
      </label>
      <details className="more">
        <summary>More settings</summary>
        <div className="row2">
          <div className="field">
            <label htmlFor={`${id}-size`}>Size</label>
            <select id={`${id}-size`} value={p.maxSize} onChange={(e) => setParams({ maxSize: Number(e.target.value) })}>
              {SIZES.map((s) => (
                <option key={s} value={s}>
                  {s} px
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-sampler`}>Sampler</label>
            <select id={`${id}-sampler`} value={p.scheduler} onChange={(e) => setParams({ scheduler: e.target.value as Scheduler })}>
              {SAMPLERS.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          </div>
        </div>
        <p className="hint">Size is the longest side the model works at (512 px by default): smaller is faster and needs less GPU memory.</p>
        <div className="field">
          <label htmlFor={`${id}-neg`}>Negative prompt</label>
          <textarea id={`${id}-neg`} rows={2} placeholder="What to steer away from (optional)" value={p.negativePrompt} onChange={(e) => setParams({ negativePrompt: e.target.value })} />
        </div>
      </details>
    </section>
  );
}
