#!/usr/bin/env node
// The package's `retouch` bin: runs the TypeScript CLI (src/cli/main.ts) through tsx, under scripts/with-vulkan.mjs
// so the GPU commands get the same Vulkan driver as `npm run cli`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src/cli/main.ts');
const withVulkan = join(root, 'scripts/with-vulkan.mjs');

let tsxLoader;
try {
  tsxLoader = import.meta.resolve('tsx');
} catch {
  tsxLoader = undefined;
}
if (!tsxLoader || !existsSync(join(root, 'node_modules/.bin/tsx'))) {
  console.error(`retouch: tsx is not installed in ${root} (run npm install there)`);
  process.exit(1);
}

const child = spawn(process.execPath, [withVulkan, process.execPath, '--import', tsxLoader, main, ...process.argv.slice(2)], {
  stdio: 'inherit',
});
child.on('error', (e) => {
  console.error(`retouch: cannot start node: ${e.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
