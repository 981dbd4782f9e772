#!/usr/bin/env node
// Runs a command with a Vulkan driver chosen for Dawn (the `webgpu` package), which must be set before Node
// starts the GPU. Order: $RETOUCH_VK_ICD, then Mesa 25 lavapipe unpacked by scripts/setup-lavapipe.sh
// (.cache/lavapipe, has shader-f16), then the SwiftShader that Debian's chromium ships.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const LAVAPIPE_ICD = join(root, '.cache/lavapipe/lvp_icd.json');
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export function chooseIcd(env = process.env) {
  if (env.RETOUCH_VK_ICD) return env.RETOUCH_VK_ICD;
  if (existsSync(LAVAPIPE_ICD)) return LAVAPIPE_ICD;
  if (existsSync(SWIFTSHADER_ICD)) return SWIFTSHADER_ICD;
  return undefined;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, ...args] = process.argv.slice(2);
  if (!cmd) {
    console.error('usage: with-vulkan.mjs COMMAND [ARGS...]');
    process.exit(2);
  }
  const env = { ...process.env };
  const icd = chooseIcd(env);
  if (icd && !env.VK_ICD_FILENAMES) env.VK_ICD_FILENAMES = icd;
  if (!env.XDG_RUNTIME_DIR) {
    env.XDG_RUNTIME_DIR = join(tmpdir(), `retouch-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
  }
  // Local binaries (vitest, tsx, vite) first, as npm scripts would have them.
  env.PATH = `${join(root, 'node_modules/.bin')}:${env.PATH ?? ''}`;
  const child = spawn(cmd, args, { stdio: 'inherit', env });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}
