// Golden tensors from models/tiny-ip2p/golden (computed by diffusers, see ../shared/fixtures/GOLDEN.md).
import { readFileSync } from 'node:fs';
import { SafetensorsFile } from '../../src/engine/weights/safetensors.ts';

export const GOLDEN_DIR = 'models/tiny-ip2p/golden';

const files = new Map<string, SafetensorsFile>();

export function goldenFile(name: string): SafetensorsFile {
  let f = files.get(name);
  if (!f) {
    f = SafetensorsFile.fromArrayBuffer(readFileSync(`${GOLDEN_DIR}/${name}`), name);
    files.set(name, f);
  }
  return f;
}

export async function golden(file: string, key: string): Promise<Float32Array> {
  return goldenFile(file).readF32(key);
}

export function goldenShape(file: string, key: string): number[] {
  return goldenFile(file).info(key).shape;
}

export async function goldenScalar(file: string, key: string): Promise<number> {
  return (await golden(file, key))[0];
}
