// Test support for the UNet: the tiny fixture model's config and weights, and a CPU backend that enforces the
// release discipline the WebGPU pool relies on (a released tensor is poisoned with NaN, its later use or a second
// release throws), so model code that frees too early or twice fails on CPU too, and leaks can be counted.
import { readFileSync } from 'node:fs';
import { CpuBackend } from '../../src/engine/ops/cpu/backend.ts';
import { CpuTensor } from '../../src/engine/ops/cpu/tensor.ts';
import type { Backend, Tensor } from '../../src/engine/ops/ops.ts';
import { parseUNetConfig, type UNet2DConditionConfig } from '../../src/engine/models/configs.ts';
import { UNet2DConditionModel } from '../../src/engine/models/unet_2d_condition.ts';
import { HostWeightSource, loadTensorFile, nodeFolderSource } from '../../src/engine/weights/diffusers.ts';
import { VarBuilder } from '../../src/engine/weights/var_builder.ts';

export const TINY_DIR = 'models/tiny-ip2p';

export function tinyUNetConfig(): UNet2DConditionConfig {
  return parseUNetConfig(JSON.parse(readFileSync(`${TINY_DIR}/unet/config.json`, 'utf8')));
}

const weightCache = new Map<string, Promise<HostWeightSource>>();

/** The tiny UNet's weights: 'fp32' = diffusion_pytorch_model.safetensors, 'fp16' = the .fp16 file. */
export function tinyUNetWeights(variant: 'fp32' | 'fp16'): Promise<HostWeightSource> {
  const path = `unet/diffusion_pytorch_model${variant === 'fp16' ? '.fp16' : ''}.safetensors`;
  let p = weightCache.get(path);
  if (!p) {
    p = loadTensorFile(nodeFolderSource(TINY_DIR), path);
    weightCache.set(path, p);
  }
  return p;
}

/** Builds the tiny UNet on `be` and checks that every weight of the file was used and none was missing. */
export async function buildTinyUNet(be: Backend, variant: 'fp32' | 'fp16'): Promise<UNet2DConditionModel> {
  const vb = VarBuilder.from(be, await tinyUNetWeights(variant));
  const unet = new UNet2DConditionModel(vb, tinyUNetConfig());
  vb.finish();
  return unet;
}

export interface CheckedBackend extends Backend {
  /** Tensors created through this backend and not released yet. */
  liveTensors(): number;
}

/** A CpuBackend that poisons released storage and rejects use-after-release and double release. */
export function releaseCheckedCpu(): CheckedBackend {
  const inner = new CpuBackend();
  const released = new WeakSet<Tensor>();
  const live = new Set<Tensor>();
  const views = new Map<Float32Array, number>(); // live tensors per storage (reshape shares it)
  const isTensor = (v: unknown): v is CpuTensor => v instanceof CpuTensor;
  const checkArg = (op: string, v: unknown) => {
    const list = Array.isArray(v) ? v : [v];
    for (const t of list) {
      if (isTensor(t) && released.has(t)) throw new Error(`${op}: tensor ${JSON.stringify(t.shape)} used after release`);
    }
  };
  return new Proxy(inner as unknown as CheckedBackend, {
    get(target, prop) {
      if (prop === 'liveTensors') return () => live.size;
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      if (prop === 'release') {
        return (t: Tensor) => {
          if (released.has(t)) throw new Error(`release: tensor ${JSON.stringify(t.shape)} released twice`);
          if (!live.has(t)) throw new Error(`release: tensor ${JSON.stringify(t.shape)} not made by this backend`);
          inner.release(t);
          released.add(t);
          live.delete(t);
          const data = (t as CpuTensor).data;
          const n = (views.get(data) ?? 1) - 1;
          if (n > 0) views.set(data, n);
          else {
            views.delete(data);
            data.fill(NaN);
          }
        };
      }
      return (...args: unknown[]) => {
        args.forEach((a) => checkArg(String(prop), a));
        const out = (v as (...a: unknown[]) => unknown).apply(target, args);
        if (isTensor(out)) {
          live.add(out);
          views.set(out.data, (views.get(out.data) ?? 0) + 1);
        }
        return out;
      };
    },
  });
}
