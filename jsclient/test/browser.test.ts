// The chat example (examples/chat, built from this repository) in a real
// browser: Debian's Chromium driven by playwright-core. Runs only when asked
// for (npm run test:browser). Without /usr/bin/chromium it is skipped, except
// in CI (CI=true), where that is a failure: .ci/run installs Debian's package.

import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { GoProcess, buildGo, scratchDir } from './goserver.js';

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
// Where the test leaves its screenshot of the two chat pages, for a person to look at.
const SCREENSHOT = join(tmpdir(), 'wsevents-chat.png');
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

let chat: GoProcess;
let base: string;
let context: BrowserContext;
let foreign: Server;

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

describe('chat example in Chromium', () => {
  // A cold Go build cache makes this the slow part.
  before(async () => {
    if (missing) return;
    const bin = await buildGo('./examples/chat');
    chat = await GoProcess.start(bin, ['-addr', '127.0.0.1:0'], { ready: /chat on http:\/\/(\S+)/ });
    base = `http://${chat.addr}`;
    const profile = scratchDir('wsevents-chromium-');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
      viewport: { width: VIEW.width, height: VIEW.height },
    });
  }, { timeout: 120_000 });

  after(async () => {
    await context?.close();
    await chat?.stop();
    await new Promise((resolve) => (foreign ? foreign.close(resolve) : resolve(undefined)));
  });

  test('two pages chat through the Go server', T, async (t) => {
    const a = await newPage();
    const b = await newPage();
    await a.page.goto(base + '/');
    await b.page.goto(base + '/');
    await line(a.page, 'Status: connected');
    await line(b.page, 'Status: connected');

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
    writeFileSync(SCREENSHOT, await board.screenshot());
    t.diagnostic(`screenshot of both pages: ${SCREENSHOT}`);
    await board.close();
    await a.page.close();
    await b.page.close();
  });

  test('a page with /wsevents.js runs the seed’s chat.js code (new Ws, OnConnect, On, Emit)', T, async () => {
    // A chat page, to see what the seed's page sends reach others.
    const other = await newPage();
    await other.page.goto(base + '/');
    await line(other.page, 'Status: connected');

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
  });

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
    // The Origin header of each handshake, as Chromium sent it.
    const origins: string[] = [];
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => {
      origins.push(String(e.request.headers['Origin'] ?? e.request.headers['origin']));
    });
    const refused = new Promise<string>((resolve) => {
      page.on('websocket', (ws) => ws.on('socketerror', (error) => resolve(error)));
    });
    await page.goto(origin + '/');
    const error = await within(refused, WAIT, 'the WebSocket error');
    assert.match(error, /Unexpected response code: 403/);
    // Two failed dials at least: the client retries (1006 is not final), and
    // each attempt is refused again.
    await page.waitForFunction(() => (window as any).log.filter((s: string) => s === 'reconnecting 1006').length >= 2);
    const log: string[] = await page.evaluate(() => (window as any).log);
    assert.equal(log[0], 'connecting');
    assert.ok(!log.includes('connect') && !log.includes('open'), `the page connected: ${log.join(', ')}`);
    // OnDisconnect reports the end of an open connection; there was none.
    assert.ok(!log.includes('disconnect'), log.join(', '));
    assert.ok(problems.some((p) => p.includes('403')), problems.join('\n'));
    assert.ok(origins.length >= 2, `handshakes seen: ${origins.length}`);
    for (const o of origins) assert.equal(o, origin);
    await page.close();
  });
});
