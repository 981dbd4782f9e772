#!/usr/bin/env node
// `npm test`: type-check, then every Vitest suite (unit, golden, WebGPU in Node, Chromium through Playwright) in one
// run on real WebGPU, then one closing line "N passed, N failed[, N skipped]".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (n) => join(root, 'node_modules/.bin', n);
const extra = process.argv.slice(2);

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  return r.status ?? 1;
}

console.log('== type-check (tsc --noEmit)');
if (run(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']) !== 0) {
  console.log('type-check failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

mkdirSync(join(root, '.cache'), { recursive: true });
const report = join(root, '.cache/vitest-report.json');
rmSync(report, { force: true });
console.log('== vitest (Node WebGPU + Chromium WebGPU)');
const code = run(process.execPath, [
  join(root, 'scripts/with-vulkan.mjs'),
  bin('vitest'),
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...extra,
]);

if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  const failedSuites = (r.testResults ?? []).filter((f) => f.status === 'failed' && !(f.assertionResults ?? []).length).length;
  console.log(`test files: ${r.numTotalTestSuites ?? '?'}; tests: ${r.numTotalTests}`);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + failedSuites} failed${skipped ? `, ${skipped} skipped` : ''}`);
} else {
  console.log('0 passed, 1 failed');
}
process.exit(code);
