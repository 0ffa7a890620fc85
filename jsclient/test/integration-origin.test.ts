// The server's origin policy, seen by Node's `ws` forging the Origin header
// a browser would send (a browser page cannot choose it; a script outside a
// browser can, which is why the check protects browser users' cookies and
// is no authentication). Runs against examples/jstest, which serves the
// same events under three policies: /events (the default, same host),
// /events-allowlist (Config.OriginPatterns, from -origin-patterns) and
// /events-insecure (Config.InsecureSkipOriginCheck). A refused handshake
// must be an HTTP 403 with no upgrade, not an upgrade closed afterwards.
// Part of `npm run test:integration`; run alone, this file builds jstest itself.

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { SUBPROTOCOL, connect, type WebSocketConstructor } from '../src/index.js';
import { GoProcess, buildGo, startJstest } from './goserver.js';

const T = { timeout: 20_000 };
const PATTERNS = '*.trusted.example,localhost:*';

let server: GoProcess;
const endpoint = (path: string) => `ws://${server.addr}${path}`;

interface Outcome {
  /** 101 when the connection opened, else the HTTP status of the refusal. */
  status: number;
  /** The refusal's Upgrade header, if it had one (it must not). */
  upgrade?: string;
  body?: string;
}

/** Attempts a handshake with the given Origin header (none when undefined). */
function handshake(url: string, origin?: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [SUBPROTOCOL], origin === undefined ? {} : { origin });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`handshake with origin ${origin}: no outcome within 5 s`));
    }, 5000);
    ws.once('open', () => {
      clearTimeout(timer);
      ws.close(1000);
      resolve({ status: 101 });
    });
    ws.once('unexpected-response', (req, res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, upgrade: res.headers.upgrade, body });
      });
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function accepted(url: string, origin?: string): Promise<void> {
  const got = await handshake(url, origin);
  assert.equal(got.status, 101, `origin ${origin} at ${url}: HTTP ${got.status} ${got.body ?? ''}`);
}

async function refused(url: string, origin: string): Promise<void> {
  const got = await handshake(url, origin);
  assert.equal(got.status, 403, `origin ${origin} at ${url}: want 403, got ${got.status}`);
  assert.equal(got.upgrade, undefined, 'a refused handshake must not carry Upgrade');
  assert.match(got.body ?? '', /origin/i, 'the refusal says why');
}

/** A WebSocket constructor for the client that sends the given Origin. */
function withOrigin(origin: string): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { origin });
    }
  } as unknown as WebSocketConstructor;
}

/** Connects the wsevents client with a forged Origin and checks an ask works. */
async function talks(url: string, origin: string): Promise<void> {
  const c = connect(url, { WebSocket: withOrigin(origin), askTimeout: 5000, reconnect: false });
  try {
    assert.equal(await c.ask('echo', `from ${origin}`), `from ${origin}`);
  } finally {
    c.close();
  }
}

/** Handshakes the endpoint's Server completed so far (the "stats" ask). */
async function acceptedCount(url: string): Promise<number> {
  const c = connect(url, { WebSocket, askTimeout: 5000, reconnect: false });
  try {
    const st = (await c.ask('stats', null)) as { accepted: number };
    return st.accepted;
  } finally {
    c.close();
  }
}

describe('origin policy, with Node ws forging Origin', () => {
  before(async () => {
    const bin = process.env.WSEVENTS_JSTEST_BIN || (await buildGo('./examples/jstest'));
    server = await startJstest(bin, '127.0.0.1:0', ['-origin-patterns', PATTERNS]);
  });

  after(async () => {
    await server?.stop();
  });

  describe('default (/events): same host only', () => {
    test('no Origin (not a browser) is accepted', T, async () => {
      await accepted(endpoint('/events'));
    });

    test('the same host and port is accepted, and events flow', T, async () => {
      const origin = `http://${server.addr}`;
      await accepted(endpoint('/events'), origin);
      await talks(endpoint('/events'), origin);
    });

    test('the same host from https is accepted (the host is compared, not the scheme)', T, async () => {
      await accepted(endpoint('/events'), `https://${server.addr}`);
    });

    test('foreign origins get 403 and no upgrade', T, async () => {
      const url = endpoint('/events');
      const before = await acceptedCount(url);
      for (const origin of [
        'http://evil.example',
        `http://127.0.0.1:${server.port === 1 ? 2 : 1}`, // same address, other port
        `http://127.0.0.2:${server.port}`, // other loopback address
        'http://localhost', // a name for the same machine is still another origin
        'null', // sandboxed iframes and file: pages
        'http://app.trusted.example', // the allow-list belongs to another endpoint
      ]) {
        await refused(url, origin);
      }
      // Nothing reached the Server: the count grew by the stats ask alone.
      assert.equal(await acceptedCount(url), before + 1);
    });
  });

  describe(`allow-list (/events-allowlist, OriginPatterns ${PATTERNS})`, () => {
    test('matching origins are accepted, and events flow', T, async () => {
      const url = endpoint('/events-allowlist');
      for (const origin of ['https://app.trusted.example', 'http://a.b.trusted.example', 'http://localhost:3000']) {
        await accepted(url, origin);
      }
      await talks(url, 'https://app.trusted.example');
    });

    test('the same host is still accepted', T, async () => {
      await accepted(endpoint('/events-allowlist'), `http://${server.addr}`);
    });

    test('look-alikes get 403', T, async () => {
      const url = endpoint('/events-allowlist');
      for (const origin of [
        'https://trusted.example', // *.trusted.example needs a subdomain
        'https://eviltrusted.example',
        'https://app.trusted.example.evil.com',
        'https://a.b.trusted.example.evil', // a suffix is no match
        'http://localhost', // localhost:* needs a port
        'http://app.trusted.example:8443', // a pattern without a port matches the host without one
        'http://evil.example',
      ]) {
        await refused(url, origin);
      }
    });
  });

  describe('InsecureSkipOriginCheck (/events-insecure)', () => {
    test('any origin is accepted, and events flow', T, async () => {
      const url = endpoint('/events-insecure');
      for (const origin of ['http://evil.example', 'null', 'https://app.trusted.example', `http://${server.addr}`]) {
        await accepted(url, origin);
      }
      await accepted(url);
      await talks(url, 'http://evil.example');
    });
  });
});
