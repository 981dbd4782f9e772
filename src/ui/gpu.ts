// The page's one WebGPU device, requested once (StrictMode mounts effects twice) and shared by components.
import { useEffect, useState } from 'react';
import { acquireDevice, type GpuContext } from '../engine/gpu/device.ts';

export type GpuState =
  | { status: 'pending' }
  | { status: 'ready'; ctx: GpuContext; lost: string | null }
  | { status: 'failed'; error: Error };

let request: Promise<GpuContext> | null = null;

function gpuContext(): Promise<GpuContext> {
  request ??= acquireDevice();
  return request;
}

export function useGpu(): GpuState {
  const [state, setState] = useState<GpuState>({ status: 'pending' });
  useEffect(() => {
    let live = true;
    gpuContext().then(
      (ctx) => {
        if (!live) return;
        setState({ status: 'ready', ctx, lost: null });
        ctx.lost.then((info) => {
          if (live && info.reason !== 'destroyed') setState({ status: 'ready', ctx, lost: info.message || 'unknown reason' });
        });
      },
      (e: unknown) => live && setState({ status: 'failed', error: e instanceof Error ? e : new Error(String(e)) }),
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}
