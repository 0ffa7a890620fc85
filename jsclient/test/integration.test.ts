// The client against the real Go server: examples/jstest, built from this
// repository and run as a separate process, so both sides are the shipped
// code. Runs only when asked for (npm run test:integration), as it needs Go.
// scripts/test.mjs builds the binary once and passes it in WSEVENTS_JSTEST_BIN;
// run alone, this file builds it itself.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import {
  ClosedError,
  DisconnectedError,
  RateLimitedError,
  RemoteError,
  TimeoutError,
  connect,
  type Client,
  type ClientOptions,
  type State,
  type StateInfo,
} from '../src/index.js';
import { GoProcess, buildGo, startJstest } from './goserver.js';
import { Queue } from './peer.js';

// Short delays keep reconnect tests fast; jitter 0 makes them predictable.
const fast: ClientOptions = { WebSocket, initialDelay: 100, maxDelay: 400, jitter: 0, askTimeout: 5000 };
// How long the server waits for the client's answer to "server-ask".
const SERVER_ASK_TIMEOUT_MS = 500;
// Every test gets this long; a hang fails the test instead of the run.
const T = { timeout: 20_000 };

let bin: string;
let server: GoProcess;
const url = (p: GoProcess) => `ws://${p.addr}/events`;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A client whose state changes and errors are recorded; closed after the test. */
function client(target: string, options: ClientOptions = {}) {
  const c = connect(target, { ...fast, ...options });
  cleanups.push(() => c.close());
  const states = new Queue<[State, StateInfo]>();
  const errors = new Queue<Error>();
  const history: State[] = [];
  c.onState((s, info) => {
    history.push(s);
    states.push([s, info]);
  });
  c.onError((e) => errors.push(e));
  return { c, states, errors, history };
}

async function waitState(states: Queue<[State, StateInfo]>, want: State, ms = 5000): Promise<StateInfo> {
  const deadline = Date.now() + ms;
  for (;;) {
    const [s, info] = await states.next(Math.max(1, deadline - Date.now()));
    if (s === want) return info;
  }
}

/** An open client on the shared server. */
async function open(options: ClientOptions = {}) {
  const cl = client(url(server), options);
  await waitState(cl.states, 'open');
  return cl;
}

/** The next n payloads of event on c. */
function collect(c: Client, event: string) {
  const q = new Queue<unknown>();
  const handler = (d: unknown) => q.push(d);
  c.on(event, handler);
  cleanups.push(() => c.off(event, handler));
  return q;
}

describe('JS client against the Go server (examples/jstest)', () => {
  before(async () => {
    bin = process.env.WSEVENTS_JSTEST_BIN || (await buildGo('./examples/jstest'));
    server = await startJstest(bin, '127.0.0.1:0', ['-ask-timeout', `${SERVER_ASK_TIMEOUT_MS}ms`]);
  });

  after(async () => {
    await server?.stop();
  });

  describe('events, both ways', () => {
    const values: Array<[string, unknown, string]> = [
      ['string', 'hello', 'text'],
      ['string of digits stays a string', '42', 'text'],
      ['number', 42, 'json'],
      ['float', -3.5, 'json'],
      ['boolean', false, 'json'],
      ['null', null, 'json'],
      ['object', { x: 1, nested: { y: [1, 'two', null] } }, 'json'],
      ['Uint8Array', new Uint8Array([0, 1, 127, 128, 255]), 'binary'],
      ['empty Uint8Array', new Uint8Array(0), 'binary'],
    ];

    for (const [name, value, goKind] of values) {
      test(`${name}: Go sees kind ${goKind}, the echo keeps the JS type`, T, async () => {
        const { c } = await open();
        assert.equal(await c.ask('kind', value), goKind);
        const echoes = collect(c, 'echo');
        c.emit('echo', value);
        const got = await echoes.next();
        assert.equal(typeof got, typeof value);
        if (value instanceof Uint8Array) assert.ok(got instanceof Uint8Array, `got ${Object.prototype.toString.call(got)}`);
        assert.deepEqual(got, value);
      });
    }

    test('values emitted by Go arrive with their JS types', T, async () => {
      const { c } = await open();
      const kinds = collect(c, 'kinds');
      c.emit('emit-kinds');
      const got: unknown[] = [];
      for (let i = 0; i < 8; i++) got.push(await kinds.next());
      assert.deepEqual(got, [
        '42',
        42,
        -3.5,
        true,
        null,
        { name: 'gopher', tags: ['a', 'b'] },
        new Uint8Array([0, 1, 255]),
        new Uint8Array(0),
      ]);
      assert.equal(typeof got[0], 'string');
      assert.equal(typeof got[1], 'number');
      assert.ok(got[6] instanceof Uint8Array);
    });

    test('events keep their order', T, async () => {
      const { c } = await open();
      const echoes = collect(c, 'echo');
      for (let i = 0; i < 200; i++) c.emit('echo', i % 2 ? i : String(i));
      for (let i = 0; i < 200; i++) assert.deepEqual(await echoes.next(), i % 2 ? i : String(i));
    });
  });

  describe('asks, client to server', () => {
    test('the reply keeps the kind', T, async () => {
      const { c } = await open();
      assert.equal(await c.ask('echo', '7'), '7');
      assert.equal(await c.ask('echo', 7), 7);
      assert.deepEqual(await c.ask('echo', { a: [1] }), { a: [1] });
      assert.deepEqual(await c.ask('echo', new Uint8Array([9, 8])), new Uint8Array([9, 8]));
    });

    test('an error reply rejects with RemoteError carrying the Go error text', T, async () => {
      const { c } = await open();
      await assert.rejects(c.ask('fail', 'no such user'), (err: unknown) => {
        assert.ok(err instanceof RemoteError);
        assert.equal(err.message, 'no such user');
        assert.equal(err.event, 'fail');
        return true;
      });
      await assert.rejects(
        c.ask('nobody-handles-this', 1),
        (err: unknown) => err instanceof RemoteError && err.message === 'wsevents: no handler for event "nobody-handles-this"',
      );
    });

    test('a slow reply times out; the late reply is ignored and the connection stays usable', T, async () => {
      const { c, errors } = await open();
      const start = Date.now();
      await assert.rejects(c.ask('sleep', 600, { timeout: 150 }), (err: unknown) => {
        assert.ok(err instanceof TimeoutError, String(err));
        assert.equal(err.timeout, 150);
        return true;
      });
      const took = Date.now() - start;
      assert.ok(took >= 140 && took < 590, `timed out after ${took} ms`);
      // Handlers of one connection run in order on the Go side: this waits
      // for the sleep, and its reply comes after the stale one.
      assert.equal(await c.ask('echo', 'after'), 'after');
      assert.equal(c.state, 'open');
      assert.equal(errors.size, 0);
    });
  });

  describe('asks, server to client', () => {
    test('the handler’s return value is the reply, kind kept', T, async () => {
      const { c } = await open();
      const results = collect(c, 'ask-result');
      const asked = new Queue<unknown>();
      c.on('question', (q: unknown) => {
        asked.push(q);
        if (q === 'async') return sleep(50).then(() => 'later');
        if (q === 'bytes') return new Uint8Array([1, 2, 3]);
        if (q === 'nothing') return undefined;
        return { answer: q };
      });
      c.emit('server-ask', 'plain');
      assert.equal(await asked.next(), 'plain');
      assert.deepEqual(await results.next(), { answer: 'plain' });
      c.emit('server-ask', 5);
      assert.equal(await asked.next(), 5);
      assert.deepEqual(await results.next(), { answer: 5 });
      c.emit('server-ask', 'async');
      assert.equal(await results.next(), 'later');
      c.emit('server-ask', 'bytes');
      assert.deepEqual(await results.next(), new Uint8Array([1, 2, 3]));
      c.emit('server-ask', 'nothing');
      assert.equal(await results.next(), null);
    });

    test('a handler that throws or rejects sends an error reply', T, async () => {
      const { c } = await open();
      const failures = collect(c, 'ask-error');
      c.on('question', (q: unknown) => {
        if (q === 'throw') throw new Error('not today');
        return Promise.reject(new Error('nor tomorrow'));
      });
      c.emit('server-ask', 'throw');
      assert.equal(await failures.next(), 'not today');
      c.emit('server-ask', 'reject');
      assert.equal(await failures.next(), 'nor tomorrow');
    });

    test('without a handler the client answers the no-handler error', T, async () => {
      const { c } = await open();
      const failures = collect(c, 'ask-error');
      c.emit('server-ask', 1);
      assert.equal(await failures.next(), 'wsevents: no handler for event "question"');
    });

    test('a handler that never answers makes the server’s ask time out', T, async () => {
      const { c } = await open();
      const failures = collect(c, 'ask-error');
      const results = collect(c, 'ask-result');
      c.on('question', () => new Promise(() => {}));
      const start = Date.now();
      c.emit('server-ask', 'hang');
      assert.equal(await failures.next(SERVER_ASK_TIMEOUT_MS + 2000), 'context deadline exceeded');
      const took = Date.now() - start;
      assert.ok(took >= SERVER_ASK_TIMEOUT_MS - 50, `server gave up after ${took} ms`);
      assert.equal(results.size, 0);
    });
  });

  describe('native messages', () => {
    test('a wsevents client’s native messages come back as they went', T, async () => {
      const { c } = await open();
      const got = new Queue<string | Uint8Array>();
      cleanups.push(c.onMessage((d) => got.push(d)));
      c.emitMessage('plain text');
      c.emitMessage(new Uint8Array([0, 255, 7]));
      c.emitMessage('');
      assert.equal(await got.next(), 'plain text');
      assert.deepEqual(await got.next(), new Uint8Array([0, 255, 7]));
      assert.equal(await got.next(), '');
    });

    test('a plain WebSocket without the subprotocol is echoed, text as text, binary as binary', T, async () => {
      const ws = new WebSocket(url(server));
      cleanups.push(() => ws.terminate());
      const got = new Queue<[string, boolean]>();
      ws.on('message', (data: Buffer, isBinary: boolean) => got.push([isBinary ? data.toString('hex') : data.toString(), isBinary]));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      assert.equal(ws.protocol, '');
      ws.send('et:echo\nnot an event here');
      ws.send(Buffer.from([1, 2, 3]));
      assert.deepEqual(await got.next(), ['et:echo\nnot an event here', false]);
      assert.deepEqual(await got.next(), ['010203', true]);
    });
  });

  describe('reconnect', () => {
    test('after the server process is killed and restarted on the same port', { timeout: 30_000 }, async () => {
      const own = await startJstest(bin);
      cleanups.push(() => own.stop());
      const { c, states, history } = client(url(own));
      const echoes = collect(c, 'echo');
      await waitState(states, 'open');
      c.emit('echo', 'before');
      assert.equal(await echoes.next(), 'before');
      // An ask the server is still working on when it dies.
      const inFlight = c.ask('sleep', 3000, { timeout: 10_000 });
      inFlight.catch(() => {}); // asserted below
      await sleep(50);

      await own.kill();
      const dropped = await waitState(states, 'reconnecting');
      assert.equal(dropped.code, 1006); // TCP ended without a close frame
      assert.equal(dropped.attempt, 1);
      assert.equal(dropped.delay, 100);
      await assert.rejects(inFlight, DisconnectedError);

      // Offline: emits, a native message and an ask wait in the buffer.
      for (let i = 1; i <= 5; i++) c.emit('echo', `offline ${i}`);
      const natives = new Queue<string | Uint8Array>();
      cleanups.push(c.onMessage((d) => natives.push(d)));
      c.emitMessage('offline native');
      const queuedAsk = c.ask('echo', { queued: true }, { timeout: 10_000 });
      assert.equal(c.stats.buffered, 7);
      assert.equal(c.stats.dropped, 0);
      // Let at least one dial fail against the closed port.
      const failed = await waitState(states, 'reconnecting');
      assert.equal(failed.attempt, 2);
      assert.equal(c.state, 'reconnecting');

      const again = await startJstest(bin, `127.0.0.1:${own.port}`);
      cleanups.push(() => again.stop());
      await waitState(states, 'open', 5000);

      for (let i = 1; i <= 5; i++) assert.equal(await echoes.next(), `offline ${i}`);
      assert.equal(await natives.next(), 'offline native');
      assert.deepEqual(await queuedAsk, { queued: true });
      assert.equal(c.stats.buffered, 0);
      // The restarted server saw this client once: the buffer went out on
      // one connection, not on several.
      assert.deepEqual(await c.ask('stats', null), { accepted: 1, connections: 1 });

      assert.deepEqual(history.slice(0, 2), ['connecting', 'open']);
      assert.equal(history.at(-1), 'open');
      const middle = history.slice(2, -1);
      assert.ok(middle.length >= 2 && middle.every((s) => s === 'reconnecting'), `states: ${history.join(' ')}`);
    });

    test('none after the server closes with 1008 (policy)', T, async () => {
      const observer = await open();
      const before = (await observer.c.ask('stats', null)) as { accepted: number };

      const { c, states, history } = client(url(server), { initialDelay: 50, maxDelay: 50 });
      await waitState(states, 'open');
      c.emit('policy-close', 'go away');
      const closed = await waitState(states, 'closed');
      assert.equal(closed.code, 1008);
      assert.equal(closed.reason, 'go away');
      assert.ok(closed.error instanceof ClosedError, String(closed.error));
      assert.match(closed.error.message, /1008/);

      await sleep(500); // ten reconnect delays
      assert.deepEqual(history, ['connecting', 'open', 'closed']);
      assert.equal(c.state, 'closed');
      assert.throws(() => c.emit('echo', 'x'), ClosedError);
      const now = (await observer.c.ask('stats', null)) as { accepted: number; connections: number };
      assert.equal(now.accepted, before.accepted + 1, 'the server saw the closed client connect again');
    });
  });

  describe('rate limit', () => {
    test('events over the limit are dropped and reported as RateLimitedError; asks get an error reply', T, async () => {
      // /events-ratelimited: a burst of 5 events, no refill to speak of.
      const { c, states, errors } = client(`ws://${server.addr}/events-ratelimited`);
      await waitState(states, 'open');
      const echoes = collect(c, 'echo');
      for (let i = 1; i <= 8; i++) c.emit('echo', i);
      for (let i = 1; i <= 5; i++) assert.equal(await echoes.next(), i);
      const err = await errors.next();
      assert.ok(err instanceof RateLimitedError, String(err));
      assert.equal(err.event, 'echo');
      assert.equal(err.dropped, 1); // the first drop is told at once, the next ones a second later at most
      await assert.rejects(c.ask('echo', 'x'), (e: unknown) => e instanceof RemoteError && /rate limit/.test(e.message));
      assert.equal(echoes.size, 0, 'an event over the limit was delivered');
      assert.equal(c.state, 'open');
    });
  });
});
