// Messages in the page: errors (role=alert) with the button that helps, warnings and notes; the no-WebGPU one
// carries the browser and flag list.
import { useStore } from '../store/index.ts';
import { WebGpuHelp } from './WebGpuHelp.tsx';

export function Notices() {
  const notices = useStore((s) => s.notices);
  const dismiss = useStore((s) => s.dismiss);
  if (notices.length === 0) return null;
  return (
    <div className="notices">
      {notices.map((n) => (
        <section
          key={n.id}
          className={`notice-card notice-${n.level}`}
          role={n.level === 'error' ? 'alert' : 'status'}
          data-code={n.code}
          data-topic={n.topic}
          data-testid={n.code === 'no-webgpu' ? 'webgpu-missing' : undefined}
          aria-labelledby={`notice-${n.id}`}
        >
          <div className="notice-main">
            <h3 id={`notice-${n.id}`}>{n.title}</h3>
            {n.text && <p>{n.text}</p>}
            {n.code === 'no-webgpu' && <WebGpuHelp />}
            {n.detail && n.detail !== n.text && (
              <details>
                <summary>Details</summary>
                <pre>{n.detail}</pre>
              </details>
            )}
            {n.actions && n.actions.length > 0 && (
              <div className="notice-actions">
                {n.actions.map((a) => (
                  <button key={a.label} type="button" className="btn btn-small" onClick={() => (dismiss(n.id), a.run())}>
                    {a.label}
                  </button>
                ))}
              </div>
            )}
          </div>
          <button type="button" className="btn btn-icon" aria-label={`Dismiss: ${n.title}`} onClick={() => dismiss(n.id)}>
            ×
          </button>
        </section>
      ))}
    </div>
  );
}
