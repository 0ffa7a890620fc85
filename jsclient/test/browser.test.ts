// The chat examples (examples/chat on net/http, and chat-gin, chat-echo and
// chat-iris: the same page and chat on each framework's router, built from
// this repository) in a real browser: Debian's Chromium driven by
// playwright-core, and the origin policies of examples/jstest for pages
// of other origins. Runs only when asked for (npm run test:browser). Without
// /usr/bin/chromium it is skipped, except in CI (CI=true), where that is a
// failure: .ci/run installs Debian's package.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { GoProcess, buildGo, repoRoot, scratchDir, startJstest } from './goserver.js';

// Debian's package; WSEVENTS_CHROMIUM names another build of Chromium.
const CHROMIUM = process.env.WSEVENTS_CHROMIUM || '/usr/bin/chromium';
// The flags that work on these machines (shared/TESTING.md); a fresh
// profile directory is added by launchPersistentContext.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// The chat examples: each serves the same page, /wsevents.js and the
// WebSocket at /chat, takes -addr and prints "chat on http://ADDR".
const EXAMPLES = ['chat', 'chat-gin', 'chat-echo', 'chat-iris'] as const;
type Example = (typeof EXAMPLES)[number];
// Where a test leaves its screenshot of two chat pages, for a person to look at.
const screenshot = (name: Example) => join(tmpdir(), `wsevents-${name}.png`);
// Bounds the one `go build` of the examples; a cold build cache needs most of it.
const BUILD_TIMEOUT = 200_000;
// Headers of a response body, which a 101 must not carry (core drops those
// middleware set before the upgrade).
const BODY_HEADERS = ['content-encoding', 'content-length', 'transfer-encoding', 'content-type'];
// Bounds every wait on the page.
const WAIT = 10_000;
const missing = !existsSync(CHROMIUM);
const ci = process.env.CI === 'true';
// Each test is reported skipped, with the reason, rather than the suite
// vanishing from the counts; in CI one more test fails for it.
const skip = missing ? `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)` : false;
const T = { timeout: 30_000, skip };
// Wide enough for the chat's 40em column and its margins.
const VIEW = { width: 720, height: 520 };

const servers = new Map<Example, GoProcess>();
let chat: GoProcess; // examples/chat
let base: string; // its http:// URL
let context: BrowserContext;
let foreign: Server;

/**
 * Builds every chat example with one `go build -race` (one build shares the
 * work the four have in common) into a directory removed at exit, and
 * returns the binaries. With -race, as `make test` has just compiled the
 * same packages for the Go tests, so that build is served from the cache,
 * and the servers report any data race the browsers provoke.
 */
function buildExamples(): Promise<Map<Example, string>> {
  const dir = scratchDir('wsevents-chat-');
  const pkgs = EXAMPLES.map((name) => `./examples/${name}`);
  return new Promise((resolve, reject) => {
    execFile(
      'go',
      ['build', '-race', '-o', dir + '/', ...pkgs],
      { cwd: repoRoot, timeout: BUILD_TIMEOUT },
      (err, _stdout, stderr) => {
        if (err) reject(new Error(`go build ${pkgs.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(new Map(EXAMPLES.map((name) => [name, join(dir, name)])));
      },
    );
  });
}

/**
 * How many connections server has accepted so far: each chat example logs
 * "<id> connected" from OnConnection, which runs once the server has
 * registered the connection, so from that line on a broadcast reaches it.
 * (The client's open event comes earlier: with the 101, before that.)
 */
const connections = (server: GoProcess) => (server.output.match(/ connected\b/g) ?? []).length;

/** Resolves once server has logged n connections (see connections). */
async function registered(server: GoProcess, n: number): Promise<void> {
  if (connections(server) >= n) return;
  const streams = [server.child.stdout!, server.child.stderr!];
  let check = () => {};
  try {
    await within(
      new Promise<void>((resolve) => {
        // Runs after GoProcess's own listener has added the chunk to output.
        check = () => {
          if (connections(server) >= n) resolve();
        };
        for (const s of streams) s.on('data', check);
      }),
      WAIT,
      `the server registering connection ${n}`,
    );
  } finally {
    for (const s of streams) s.off('data', check);
  }
}

/** Fails if server (built with -race) has reported a data race. */
function noRace(server: GoProcess): void {
  assert.ok(!server.output.includes('DATA RACE'), `the server reported a data race:\n${server.output}`);
}

/** A page of the browser whose console errors and uncaught exceptions are collected. */
async function newPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    // Chromium asks every server for a favicon; the chat has none.
    if (msg.type() === 'error' && !msg.location().url.endsWith('/favicon.ico')) problems.push(`console: ${msg.text()}`);
  });
  return { page, problems };
}

/** Waits until #messages of page has a line whose whole text is text. */
async function line(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    (t) => Array.from(document.querySelectorAll('#messages > div')).some((d) => d.textContent === t),
    text,
    { timeout: WAIT },
  );
}

/** p, or a rejection after ms; the timer does not outlive it. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const lines = (page: Page) =>
  page.$$eval('#messages > div', (divs) => divs.map((d) => d.textContent ?? ''));

if (missing && ci) {
  test('Chromium is installed (CI=true runs the browser tests)', () => {
    assert.fail(`${CHROMIUM} not found: .ci/run must install Debian's chromium`);
  });
}

describe('chat examples in Chromium', () => {
  // A cold Go build cache makes this the slow part.
  before(async () => {
    if (missing) return;
    const bins = await buildExamples();
    await Promise.all(
      EXAMPLES.map(async (name) => {
        const server = await GoProcess.start(bins.get(name)!, ['-addr', '127.0.0.1:0'], {
          ready: /chat on http:\/\/(\S+)/,
        });
        servers.set(name, server);
      }),
    );
    chat = servers.get('chat')!;
    base = `http://${chat.addr}`;
    const profile = scratchDir('wsevents-chromium-');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
      viewport: { width: VIEW.width, height: VIEW.height },
    });
  }, { timeout: BUILD_TIMEOUT + 40_000 });

  after(async () => {
    await context?.close();
    await Promise.all([...servers.values()].map((server) => server.stop()));
    await new Promise((resolve) => (foreign ? foreign.close(resolve) : resolve(undefined)));
  });

  for (const name of EXAMPLES) {
    test(`two pages chat through examples/${name}`, T, async (t) => {
      const server = servers.get(name)!;
      const url = `http://${server.addr}/`;
      const before = connections(server);
      const a = await newPage();
      const b = await newPage();
      // The response to each page's handshake, as Chromium received it.
      const handshakes: { status: number; headers: Record<string, string> }[] = [];
      let bothAnswered = () => {};
      const answered = new Promise<void>((resolve) => (bothAnswered = resolve));
      for (const page of [a.page, b.page]) {
        const cdp = await context.newCDPSession(page);
        await cdp.send('Network.enable');
        cdp.on('Network.webSocketHandshakeResponseReceived', (e) => {
          handshakes.push(e.response);
          if (handshakes.length === 2) bothAnswered();
        });
      }
      await a.page.goto(url);
      await b.page.goto(url);
      await line(a.page, 'Status: connected');
      await line(b.page, 'Status: connected');
      // Both connections registered: no broadcast can miss either page.
      await registered(server, before + 2);

      await a.page.fill('#input', 'hello from A');
      await a.page.click('#send');
      await line(b.page, 'hello from A');
      await line(a.page, 'me: hello from A');
      assert.equal(await a.page.inputValue('#input'), '');

      await b.page.fill('#input', 'and hello from B');
      await b.page.press('#input', 'Enter');
      await line(a.page, 'and hello from B');
      await line(b.page, 'me: and hello from B');

      // Each page saw its own line as "me: ..." and the other's as is, in order.
      assert.deepEqual(await lines(a.page), [
        'Status: connected',
        'me: hello from A',
        'and hello from B',
      ]);
      assert.deepEqual(await lines(b.page), [
        'Status: connected',
        'hello from A',
        'me: and hello from B',
      ]);
      assert.deepEqual([...a.problems, ...b.problems], []);

      // One picture of both pages side by side, for a person to check.
      const shots = [await a.page.screenshot(), await b.page.screenshot()];
      const board = await context.newPage();
      const gap = 16;
      await board.setViewportSize({ width: 2 * VIEW.width + 3 * gap, height: VIEW.height + 2 * gap });
      await board.setContent(
        `<body style="margin:0;padding:${gap}px;background:#777;display:flex;gap:${gap}px">` +
          shots
            .map((s) => `<img style="display:block;width:${VIEW.width}px;height:${VIEW.height}px" src="data:image/png;base64,${s.toString('base64')}">`)
            .join('') +
          '</body>',
      );
      await board.waitForFunction(() => Array.from(document.images).every((i) => i.complete && i.naturalWidth > 0));
      writeFileSync(screenshot(name), await board.screenshot());
      t.diagnostic(`screenshot of both pages: ${screenshot(name)}`);
      await board.close();
      await a.page.close();
      await b.page.close();

      // Chromium's handshake says Accept-Encoding: gzip, and chat-echo and
      // chat-iris serve every route behind their framework's gzip
      // middleware: the 101s still carry no header of a response body.
      await within(answered, WAIT, 'the two handshake responses');
      for (const { status, headers } of handshakes) {
        assert.equal(status, 101);
        const body = Object.keys(headers).filter((h) => BODY_HEADERS.includes(h.toLowerCase()));
        assert.deepEqual(body, [], `101 with body headers: ${JSON.stringify(headers)}`);
      }
      noRace(server);
    });
  }

  test('a page with /wsevents.js runs the seed’s chat.js code (new Ws, OnConnect, On, Emit)', T, async () => {
    // A chat page, to see what the seed's page sends reach others.
    const before = connections(chat);
    const other = await newPage();
    await other.page.goto(base + '/');
    await line(other.page, 'Status: connected');
    // Registered: the seed page's first broadcast cannot miss it.
    await registered(chat, before + 1);

    // The page must come from the chat server's origin (Chromium's local
    // network access checks block a WebSocket to 127.0.0.1 from a page with
    // no address, such as one a Playwright route makes up): open a real
    // response of that server, then replace the document with the seed's.
    // Only the HTML is the test's; the script and the WebSocket are the Go
    // server's.
    const seed = await newPage();
    await seed.page.goto(base + '/wsevents.js');
    await seed.page.setContent(`<!doctype html><title>seed</title>
<script src="/wsevents.js"></script>
<script>
  window.log = [];
  var w = new Ws("ws://" + location.host + "/chat");
  w.OnConnect(function () { log.push("connect"); w.Emit("chat", "Hello from the seed"); });
  w.OnDisconnect(function () { log.push("disconnect"); });
  w.On("chat", function (message) { log.push("chat " + typeof message + ": " + message); });
</script>`);

    await seed.page.waitForFunction(() => (window as any).log.includes('chat string: me: Hello from the seed'));
    await line(other.page, 'Hello from the seed'); // the broadcast reached the chat page

    // A native message: the chat server has no OnMessage handler, so nothing
    // answers it, and the connection goes on.
    await seed.page.evaluate(() => {
      const w = (window as any).w;
      w.EmitMessage('a native message');
      w.Emit('chat', 'after the native message');
    });
    await seed.page.waitForFunction(() => (window as any).log.includes('chat string: me: after the native message'));
    await line(other.page, 'after the native message');

    // Messages from the other page arrive too.
    await other.page.fill('#input', 'hi seed');
    await other.page.click('#send');
    await seed.page.waitForFunction(() => (window as any).log.includes('chat string: hi seed'));

    await seed.page.evaluate(() => (window as any).w.Disconnect());
    await seed.page.waitForFunction(() => (window as any).log.includes('disconnect'));
    assert.deepEqual(await seed.page.evaluate(() => (window as any).log), [
      'connect',
      'chat string: me: Hello from the seed',
      'chat string: me: after the native message',
      'chat string: hi seed',
      'disconnect',
    ]);
    assert.deepEqual([...seed.problems, ...other.problems], []);
    await seed.page.close();
    await other.page.close();
    noRace(chat);
  });

  /**
   * Records on page, as Chromium saw them, the Origin header of each
   * WebSocket handshake it sends, the status of each handshake response and
   * the WebSocket errors; refused resolves with the first error.
   */
  async function watchHandshakes(page: Page) {
    const origins: string[] = [];
    const statuses: number[] = [];
    const errors: string[] = [];
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => {
      origins.push(String(e.request.headers['Origin'] ?? e.request.headers['origin']));
    });
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => statuses.push(e.response.status));
    const refused = new Promise<string>((resolve) => {
      page.on('websocket', (ws) =>
        ws.on('socketerror', (error) => {
          errors.push(error);
          resolve(error);
        }),
      );
    });
    return { origins, statuses, errors, refused };
  }

  /**
   * The page of origin was refused with 403, retried (1006 is not final, and
   * each attempt is refused again) and never connected; every handshake
   * carried origin. Returns the page's log.
   */
  async function assertRefused(
    page: Page,
    problems: string[],
    seen: { origins: string[]; refused: Promise<string> },
    origin: string,
  ): Promise<string[]> {
    const error = await within(seen.refused, WAIT, 'the WebSocket error');
    assert.match(error, /Unexpected response code: 403/);
    await page.waitForFunction(() => (window as any).log.filter((s: string) => s === 'reconnecting 1006').length >= 2);
    const log: string[] = await page.evaluate(() => (window as any).log);
    assert.equal(log[0], 'connecting');
    assert.ok(!log.includes('connect') && !log.includes('open'), `the page connected: ${log.join(', ')}`);
    // OnDisconnect reports the end of an open connection; there was none.
    assert.ok(!log.includes('disconnect'), log.join(', '));
    assert.ok(problems.some((p) => p.includes('403')), problems.join('\n'));
    // The refusal was for the Origin under test, not for a missing or other one.
    assert.ok(seen.origins.length >= 2, `handshakes seen: ${seen.origins.length}`);
    for (const o of seen.origins) assert.equal(o, origin);
    return log;
  }

  test('a page of another origin is refused by default (403), and never connects', T, async () => {
    const wsURL = `ws://${chat.addr}/chat`;
    foreign = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<!doctype html><title>elsewhere</title>
<script src="${base}/wsevents.js"></script>
<script>
  window.log = [];
  var w = new Ws(${JSON.stringify(wsURL)}, { initialDelay: 100, maxDelay: 200 });
  w.OnConnect(function () { log.push("connect"); });
  w.OnDisconnect(function () { log.push("disconnect"); });
  w.client.onState(function (state, info) { log.push(state + (info.code ? " " + info.code : "")); });
</script>`);
    });
    await new Promise<void>((resolve, reject) => {
      foreign.once('error', reject);
      foreign.listen(0, '127.0.0.2', resolve);
    });
    const origin = `http://127.0.0.2:${(foreign.address() as AddressInfo).port}`;

    const { page, problems } = await newPage();
    const seen = await watchHandshakes(page);
    await page.goto(origin + '/');
    await assertRefused(page, problems, seen, origin);
    await page.close();
  });

  // The two other origin policies, on examples/jstest, which serves the same
  // events at /events (the default: same host only), /events-allowlist
  // (Config.OriginPatterns, from -origin-patterns) and /events-insecure
  // (Config.InsecureSkipOriginCheck). The pages come from two other loopback
  // origins: 127.0.0.2, which the patterns match, and 127.0.0.3, which they
  // do not. Each page connects to the endpoint its query names and, once
  // connected, emits "echo", which jstest sends back as an "echo" event.
  describe('origin policies of examples/jstest, for pages of other origins', () => {
    // Origin hosts are matched with their port; the page servers' are random.
    const PATTERNS = '127.0.0.2:*';
    let jstest: GoProcess;
    const pageServers: Server[] = [];
    let allowed: string; // the origin of the page server on 127.0.0.2
    let other: string; // the origin of the page server on 127.0.0.3

    /** A server on host of the page that dials ?ws=URL; resolves to its origin. */
    async function pageServer(host: string): Promise<string> {
      const server = createServer((_req, res) => {
        res.setHeader('Content-Type', 'text/html');
        res.end(`<!doctype html><title>elsewhere</title>
<script src="${base}/wsevents.js"></script>
<script>
  window.log = [];
  var w = new Ws(new URLSearchParams(location.search).get("ws"), { initialDelay: 100, maxDelay: 200 });
  w.OnConnect(function () { log.push("connect"); w.Emit("echo", "hello from " + location.origin); });
  w.OnDisconnect(function () { log.push("disconnect"); });
  w.On("echo", function (message) { log.push("echo " + typeof message + ": " + message); });
  w.client.onState(function (state, info) { log.push(state + (info.code ? " " + info.code : "")); });
</script>`);
      });
      pageServers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, resolve);
      });
      return `http://${host}:${(server.address() as AddressInfo).port}`;
    }

    /**
     * Opens the page of origin that dials jstest's path, and records, as
     * Chromium saw them, the Origin header of each handshake it sent, the
     * status of each handshake response, and the WebSocket errors.
     */
    async function dial(origin: string, path: string) {
      const { page, problems } = await newPage();
      const seen = await watchHandshakes(page);
      const wsURL = `ws://${jstest.addr}${path}`;
      await page.goto(`${origin}/?ws=${encodeURIComponent(wsURL)}`);
      return { page, problems, ...seen };
    }

    /** The page of origin is refused at path with 403, retries, and never connects. */
    async function refusedAt(origin: string, path: string): Promise<void> {
      const { page, problems, ...seen } = await dial(origin, path);
      const log = await assertRefused(page, problems, seen, origin);
      assert.ok(!log.some((s) => s.startsWith('echo')), log.join(', '));
      await page.close();
    }

    /** The page of origin connects at path, and its "echo" event comes back. */
    async function talksAt(origin: string, path: string): Promise<void> {
      const { page, problems, origins, statuses, errors } = await dial(origin, path);
      const echo = `echo string: hello from ${origin}`;
      const arrived = await page
        .waitForFunction((e) => (window as any).log.includes(e), echo)
        .then(() => true, () => false);
      const log: string[] = await page.evaluate(() => (window as any).log);
      assert.ok(arrived, `no echo; log: ${log.join(', ')}; handshake statuses: ${statuses.join(', ')}`);
      // OnConnect's state listener was added before the page's own, so "connect" comes first.
      assert.deepEqual(log, ['connecting', 'connect', 'open', echo]);
      // One handshake, with the page's own (foreign) Origin, answered with a 101.
      assert.deepEqual(origins, [origin]);
      assert.notEqual(new URL(origin).host, jstest.addr);
      assert.deepEqual(statuses, [101]);
      assert.deepEqual(errors, []);
      assert.deepEqual(problems, []);
      await page.close();
    }

    before(async () => {
      if (missing) return;
      const bin = process.env.WSEVENTS_JSTEST_BIN || (await buildGo('./examples/jstest'));
      jstest = await startJstest(bin, '127.0.0.1:0', ['-origin-patterns', PATTERNS]);
      allowed = await pageServer('127.0.0.2');
      other = await pageServer('127.0.0.3');
    }, { timeout: BUILD_TIMEOUT });

    after(async () => {
      await jstest?.stop();
      await Promise.all(pageServers.map((s) => new Promise((resolve) => s.close(resolve))));
    });

    test('the default (/events) refuses a page of 127.0.0.2 (403), which never connects', T, async () => {
      await refusedAt(allowed, '/events');
    });

    test(`the allow-list (/events-allowlist, ${PATTERNS}) lets a page of 127.0.0.2 connect, and events flow`, T, async () => {
      await talksAt(allowed, '/events-allowlist');
    });

    test(`the allow-list (/events-allowlist, ${PATTERNS}) refuses a page of 127.0.0.3 (403)`, T, async () => {
      await refusedAt(other, '/events-allowlist');
    });

    test('InsecureSkipOriginCheck (/events-insecure) lets pages of 127.0.0.2 and 127.0.0.3 connect, and events flow', T, async () => {
      await talksAt(allowed, '/events-insecure');
      await talksAt(other, '/events-insecure');
    });
  });
});
