// Go programs of this repository as test peers: build one (`go build` from
// the repository root, where go.work covers every module), start it, learn
// its address from the line it prints, and stop it. Every process started
// here is killed when the test process exits, passed, failed or
// interrupted, so no server outlives the run.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory up from here holding go.work. */
export const repoRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'go.work'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('goserver: no go.work above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();

/** Bounds one `go build`; a cold module and build cache needs most of it. */
const BUILD_TIMEOUT = 180_000;

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
  });
}

/**
 * A new temporary directory, removed when this process exits. It is made
 * under WSEVENTS_TEST_TMP when set (scripts/test.mjs sets it and removes the
 * whole directory after the run, so not even a killed test leaves one
 * behind), else under the system's temporary directory.
 */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(process.env.WSEVENTS_TEST_TMP || tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/**
 * Builds the Go package pkg (a path from the repository root, such as
 * "./examples/jstest") into a temporary directory removed at exit, and
 * returns the binary's path.
 */
export function buildGo(pkg: string): Promise<string> {
  const dir = scratchDir('wsevents-go-');
  const out = join(dir, pkg.split('/').filter(Boolean).pop() ?? 'main');
  return new Promise((resolve, reject) => {
    execFile('go', ['build', '-o', out, pkg], { cwd: repoRoot, timeout: BUILD_TIMEOUT }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`go build ${pkg}: ${err.message}\n${stderr}`));
      else resolve(out);
    });
  });
}

export interface StartOptions {
  /** Matched against stdout and stderr as they arrive; group 1 is the address. */
  ready: RegExp;
  /** ms to wait for ready. Default 10000. */
  timeout?: number;
  /**
   * Give the program a standard input that closes when this process dies,
   * for programs that exit on EOF (jstest -exit-on-eof): then not even a
   * SIGKILL of the test process leaves them behind.
   */
  stdinPipe?: boolean;
}

/** A running Go program. */
export class GoProcess {
  /** Everything it printed so far, stdout and stderr interleaved, for failure messages. */
  output = '';
  readonly exited: Promise<number | string>;

  private constructor(
    readonly child: ChildProcess,
    readonly addr: string,
  ) {
    this.exited = exitOf(child);
  }

  /** Starts bin with args and resolves once it printed a line matching options.ready. */
  static start(bin: string, args: string[], options: StartOptions): Promise<GoProcess> {
    const child = spawn(bin, args, { cwd: repoRoot, stdio: [options.stdinPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    let output = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${bin} ${args.join(' ')}: not ready within ${options.timeout ?? 10_000} ms; output:\n${output}`));
      }, options.timeout ?? 10_000);
      let started: GoProcess | undefined;
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (started) {
          started.output = output;
          return;
        }
        const m = options.ready.exec(output);
        if (m?.[1]) {
          clearTimeout(timer);
          started = new GoProcess(child, m[1]);
          started.output = output;
          resolve(started);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!started) reject(new Error(`${bin} ${args.join(' ')} exited (${code ?? signal}) before ready; output:\n${output}`));
      });
    });
  }

  /** The port it listens on. */
  get port(): number {
    return Number(this.addr.slice(this.addr.lastIndexOf(':') + 1));
  }

  /** SIGKILL, like a crash: no close frames. Resolves once it has exited. */
  kill(): Promise<void> {
    return this.stop('SIGKILL');
  }

  /** Sends signal (default SIGTERM, a graceful shutdown), then SIGKILL after 5 s; resolves once exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

function exitOf(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** The jstest server (examples/jstest) of the integration tests. */
export function startJstest(bin: string, addr = '127.0.0.1:0', extra: string[] = []): Promise<GoProcess> {
  return GoProcess.start(bin, ['-addr', addr, '-exit-on-eof', ...extra], {
    ready: /^listening (\S+)$/m,
    stdinPipe: true,
  });
}
