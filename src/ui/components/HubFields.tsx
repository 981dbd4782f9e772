// The Hub source's fields: repo id, revision and weights variant (for another repo), and the Hub base URL (a
// mirror or a local server) for both the default model and another repo.
import { useId } from 'react';
import { useStore } from '../store/index.ts';
import { planModel, selectModel } from '../store/actions/select_model.ts';

export function HubFields({ showRepo }: { showRepo: boolean }) {
  const repo = useStore((s) => s.hubRepo);
  const revision = useStore((s) => s.hubRevision);
  const variant = useStore((s) => s.hubVariant);
  const baseUrl = useStore((s) => s.hubBaseUrl);
  const id = useId();
  const set = useStore.setState;
  const replan = () => void planModel();
  const baseField = (
    <>
      <label htmlFor={`${id}-base`}>Hub base URL</label>
      <input id={`${id}-base`} type="url" spellCheck={false} value={baseUrl} onChange={(e) => set({ hubBaseUrl: e.target.value })} onBlur={replan} />
      <p className="hint">A mirror or a local server that answers like the Hub (/owner/name/resolve/revision/file).</p>
    </>
  );
  return (
    <div className="subfields">
      {showRepo && (
        <>
          <label htmlFor={`${id}-repo`}>Hub repo id</label>
          <input id={`${id}-repo`} type="text" spellCheck={false} placeholder="owner/name" value={repo} onChange={(e) => set({ hubRepo: e.target.value })} onBlur={replan} />
          <div className="row2">
            <div>
              <label htmlFor={`${id}-rev`}>Revision</label>
              <input id={`${id}-rev`} type="text" spellCheck={false} value={revision} onChange={(e) => set({ hubRevision: e.target.value })} onBlur={replan} />
            </div>
            <div>
              <label htmlFor={`${id}-variant`}>Weights</label>
              <select id={`${id}-variant`} value={variant} onChange={(e) => void selectModel({ hubVariant: e.target.value as 'fp16' | 'fp32' })}>
                <option value="fp16">fp16 (half the download)</option>
                <option value="fp32">fp32</option>
              </select>
            </div>
          </div>
        </>
      )}
      {showRepo ? (
        baseField
      ) : (
        <details className="hub-settings">
          <summary>Hub settings</summary>
          {baseField}
        </details>
      )}
    </div>
  );
}

