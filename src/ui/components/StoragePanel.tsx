// The Storage panel: models the engine cached in this browser, their sizes, and buttons that free them.
import { useEffect } from 'react';
import { formatBytes } from '../format.ts';
import { useStore } from '../store/index.ts';
import { clearCache, deleteCached, refreshStorage } from '../store/actions/storage.ts';
import { Dialog } from './Dialog.tsx';

function StorageList() {
  const cache = useStore((s) => s.cache);
  const state = useStore((s) => s.cacheState);
  const error = useStore((s) => s.cacheError);
  const estimate = useStore((s) => s.estimate);
  const gpu = useStore((s) => s.gpu);
  const busy = useStore((s) => s.job?.kind === 'load');
  useEffect(() => void refreshStorage(), []);
  const total = cache?.reduce((n, e) => n + e.bytes, 0) ?? 0;
  return (
    <div className="storage" data-testid="storage-panel">
      <p className="muted">
        Downloaded models stay in this browser so the next visit loads from disk and works offline. Free them here.
      </p>
      {estimate && estimate.quota > 0 && (
        <div className="quota">
          <div className="bar" aria-hidden="true">
            <div className="bar-fill" style={{ width: `${Math.min(100, (100 * estimate.usage) / estimate.quota)}%` }} />
          </div>
          <p className="small">
            This site uses {formatBytes(estimate.usage)} of the {formatBytes(estimate.quota)} the browser grants it.
          </p>
        </div>
      )}
      {gpu !== 'ready' && <p className="muted">The cache is managed by the GPU engine, which is not running here.</p>}
      {state === 'pending' && !cache && <p className="muted">Reading the cache…</p>}
      {error && <p className="notice notice-bad">{error}</p>}
      {cache && cache.length === 0 && <p className="empty">Nothing is cached yet.</p>}
      {cache && cache.length > 0 && (
        <>
          <ul className="cache-list" aria-label="Cached models">
            {cache.map((e) => (
              <li key={e.key}>
                <div>
                  <strong>{e.label}</strong>
                  <span className="muted small">
                    {' '}
                    · {formatBytes(e.bytes)}
                    {e.date ? ` · ${new Date(e.date).toLocaleDateString()}` : ''}
                  </span>
                </div>
                <button type="button" className="btn btn-small btn-danger" aria-label={`Delete ${e.label}`} disabled={busy} onClick={() => void deleteCached(e.key)}>
                  Delete
                </button>
              </li>
            ))}
          </ul>
          <div className="storage-foot">
            <span className="small">In all: {formatBytes(total)}</span>
            <button type="button" className="btn btn-small btn-danger" disabled={busy} onClick={() => void clearCache()}>
              Clear all
            </button>
          </div>
        </>
      )}
    </div>
  );
}

export function StoragePanel() {
  return (
    <Dialog name="storage" title="Storage">
      <StorageList />
    </Dialog>
  );
}
