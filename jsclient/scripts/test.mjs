// npm test: build (dist and the core copy), type-check and compile the tests
// (test/types.test-d.ts included, so a broken type test fails here), then run
// them with node's test runner. Arguments name test files to run alone, e.g.
// `node scripts/test.mjs contract` (with WSEVENTS_URL set, against a real server).

import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './build.mjs';

const run = (args) => execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });

try {
  run([join(root, 'scripts', 'build.mjs')]);
  // Compiled from scratch, so a deleted test cannot linger and pass.
  rmSync(join(root, '.test-build'), { recursive: true, force: true });
  run([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'test/tsconfig.json']);
} catch {
  process.exit(1);
}

const only = process.argv.slice(2);
const dir = join(root, '.test-build', 'test');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((name) => f.startsWith(name)))
  .sort()
  .map((f) => join(dir, f));
if (files.length === 0) {
  console.error(`no test file matches ${only.join(', ')}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
