#!/usr/bin/env node
// Runs the test suite with node:test. Node 20 does not expand globs, so files are found here.
// Levels (STYLE rule 8): unit `*.test.ts`, integration `*.int.test.ts`, end-to-end `test/e2e/*.test.ts`.
// Usage: node scripts/run-tests.mjs [unit|int|e2e ...] [--only PATTERN]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args.splice(onlyAt, 2)[1] : undefined;
const levels = args.length ? new Set(args) : new Set(['unit', 'int', 'e2e']);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts') || name.endsWith('.test.tsx')) out.push(relative(root, p));
  }
  return out;
}

function level(file) {
  if (file.startsWith('test/e2e/')) return 'e2e';
  if (/\.int\.test\.tsx?$/.test(file)) return 'int';
  return 'unit';
}

const files = [...walk(join(root, 'packages'), []), ...walk(join(root, 'test'), [])]
  .filter((f) => levels.has(level(f)))
  .filter((f) => !only || f.includes(only))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// --test-force-exit: a test file whose tests are all done exits even if a handle (a socket left
// open by a failed test) would keep its process alive — one stray handle must not hang CI.
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-force-exit', '--test-concurrency=2', ...files], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
