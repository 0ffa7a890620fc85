// npm test: build (dist and the core copy), type-check and compile the tests
// (test/types.test-d.ts included, so a broken type test fails here), then run
// them with node's test runner. Arguments name test files to run alone, e.g.
// `node scripts/test.mjs contract` (with WSEVENTS_URL set, against a real server).
//
// The integration and browser tests need Go (and Chromium) and run only when
// named: `npm run test:integration`, `npm run test:browser`. With --jstest,
// the Go test server examples/jstest is built once and started for the run:
// WSEVENTS_JSTEST_BIN names the binary and WSEVENTS_URL points at the server,
// so the contract test checks the real Go server too.
//
// --timeout=SECONDS (default 300) bounds the run: then the test runner and
// every process it started are killed and the run fails.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './build.mjs';

// Test files that run only when named.
const OPT_IN = ['integration', 'browser'];

const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const jstest = args.includes('--jstest');
const timeoutArg = args.find((a) => a.startsWith('--timeout='));
const timeoutSec = timeoutArg ? Number(timeoutArg.slice('--timeout='.length)) : 300;
if (!(timeoutSec > 0)) {
  console.error(`bad ${timeoutArg}`);
  process.exit(2);
}

const run = (a) => execFileSync(process.execPath, a, { cwd: root, stdio: 'inherit', timeout: 120_000 });

try {
  run([join(root, 'scripts', 'build.mjs')]);
  // Compiled from scratch, so a deleted test cannot linger and pass.
  rmSync(join(root, '.test-build'), { recursive: true, force: true });
  run([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'test/tsconfig.json']);
} catch {
  process.exit(1);
}

const dir = join(root, '.test-build', 'test');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) =>
    only.length === 0 ? !OPT_IN.some((name) => f.startsWith(name)) : only.some((name) => f.startsWith(name)),
  )
  .sort()
  .map((f) => join(dir, f));
if (files.length === 0) {
  console.error(`no test file matches ${only.join(', ')}`);
  process.exit(1);
}

// Scratch space of the run (Go binaries, browser profiles), removed at exit.
const scratch = mkdtempSync(join(tmpdir(), 'wsevents-test-'));
process.env.WSEVENTS_TEST_TMP = scratch;
const env = { ...process.env };

// The runner gets a process group of its own, so that a timeout or an
// interrupt ends it together with the Go servers its tests started.
// (Chromium, which Playwright puts in a group of its own, exits when the
// test process holding its pipe dies.)
let runner;
const killGroup = () => {
  try {
    if (runner) process.kill(-runner.pid, 'SIGKILL');
  } catch {
    // Nothing left in the group.
  }
};
process.on('exit', () => {
  killGroup();
  try {
    rmSync(scratch, { recursive: true, force: true });
  } catch (err) {
    console.error(`cannot remove ${scratch}: ${err.message}`);
  }
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => process.exit(1)); // runs the exit hooks
}

let server;
if (jstest) {
  // Killed at exit by goserver.js, whatever ends this process.
  const { buildGo, startJstest } = await import(pathToFileURL(join(dir, 'goserver.js')).href);
  try {
    env.WSEVENTS_JSTEST_BIN = await buildGo('./examples/jstest');
    server = await startJstest(env.WSEVENTS_JSTEST_BIN);
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
  env.WSEVENTS_URL = `ws://${server.addr}/events`;
  console.log(`examples/jstest listening on ${server.addr}`);
}

runner = spawn(process.execPath, ['--test', '--test-reporter=spec', ...files], {
  cwd: root,
  env,
  stdio: 'inherit',
  detached: true,
});

let timedOut = false;
const watchdog = setTimeout(() => {
  timedOut = true;
  console.error(`\ntests did not finish within ${timeoutSec} s: killing them`);
  killGroup();
}, timeoutSec * 1000);

const status = await new Promise((resolve) => runner.once('exit', (code, signal) => resolve(code ?? signal)));
clearTimeout(watchdog);
// Whatever a crashed test file left running in the group goes too.
killGroup();
await server?.stop();
if (timedOut) {
  // A browser whose test process was killed may still be writing its
  // profile for a moment.
  for (let i = 0; i < 10 && existsSync(scratch); i++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    try {
      rmSync(scratch, { recursive: true, force: true });
    } catch {
      // Still being written: try again.
    }
  }
}
process.exit(timedOut ? 1 : status === 0 ? 0 : 1);
