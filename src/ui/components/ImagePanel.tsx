// Giving the editor a photo: the "Image" file input inside a drop zone (drop and paste reach the same action),
// and example photos to try at once, with their credits.
import { useId, useState } from 'react';
import { useStore } from '../store/index.ts';
import { EXAMPLE_PHOTOS, exampleUrl } from '../examples.ts';
import { openExample, openImage } from '../store/actions/open_image.ts';

export function ImagePanel() {
  const id = useId();
  const [over, setOver] = useState(false);
  const hasImage = useStore((s) => s.entries.length > 0);
  return (
    <section className="card">
      <h2 id={`${id}-h`} className="card-title">
        Image
      </h2>
      <label
        className={`dropzone${over ? ' dropzone-over' : ''}${hasImage ? ' dropzone-compact' : ''}`}
        onDragOver={(e) => {
          if (![...e.dataTransfer.types].includes('Files')) return;
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          e.stopPropagation();
          setOver(false);
          const f = e.dataTransfer.files[0];
          if (f) void openImage(f, f.name);
        }}
      >
        <input
          type="file"
          accept="image/*"
          aria-label="Image"
          className="file-input"
          onChange={(e) => {
            const f = e.target.files?.[0];
            e.target.value = ''; // picking the same file again still fires change
            if (f) void openImage(f, f.name);
          }}
        />
        <svg viewBox="0 0 24 24" className="dz-icon" aria-hidden="true">
          <path d="M12 16V4m0 0-4 4m4-4 4 4M4 16v2a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-2" fill="none" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
        <span className="dz-text">
          <strong>{hasImage ? 'Choose another photo' : 'Choose a photo'}</strong> or drop it here
        </span>
        <span className="dz-hint">or paste with Ctrl+V · PNG, JPEG, WebP</span>
      </label>
      <p className="examples-label">Or try one:</p>
      <ul className="examples" aria-label="Example photos">
        {EXAMPLE_PHOTOS.map((p) => (
          <li key={p.file}>
            <button
              type="button"
              className="example"
              title={`${p.title}: ${p.credit} (${p.licence})`}
              aria-label={`Example photo: ${p.title}`}
              onClick={() => void openExample(exampleUrl(p), p.file)}
            >
              <img src={exampleUrl(p)} alt="" loading="lazy" width={64} height={64} />
            </button>
          </li>
        ))}
      </ul>
      <p className="credits">
        Photos:{' '}
        {EXAMPLE_PHOTOS.map((p, i) => (
          <span key={p.file}>
            {i > 0 && ' · '}
            {p.source ? (
              <a href={p.source} target="_blank" rel="noreferrer">
                {p.credit}
              </a>
            ) : (
              p.credit
            )}{' '}
            ({p.licence})
          </span>
        ))}
      </p>
    </section>
  );
}
