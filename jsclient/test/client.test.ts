// The client against a scripted in-process peer (test/peer.ts): a real `ws`
// server, so frames, subprotocol negotiation and close codes are real.

import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import {
  BufferFullError,
  ClosedError,
  DisconnectedError,
  ProtocolError,
  RateLimitedError,
  RemoteError,
  TimeoutError,
  Ws,
  connect,
  defaultOptions,
  type ClientOptions,
  type State,
  type StateInfo,
  type WebSocketLike,
} from '../src/index.js';
import { backoffDelay, resolveOptions } from '../src/options.js';
import { Peer, Queue } from './peer.js';

// Short delays keep reconnect tests fast; jitter 0 makes them predictable.
const fast: ClientOptions = { WebSocket, initialDelay: 20, maxDelay: 100, jitter: 0 };

// Everything a test opens is closed after it, passed or failed.
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startPeer(options?: Parameters<typeof Peer.start>[0]): Promise<Peer> {
  const peer = await Peer.start(options);
  cleanups.push(() => peer.stop());
  return peer;
}

/** A client whose state changes are recorded, and its errors collected instead of printed. */
function client(url: string, options: ClientOptions = {}) {
  const c = connect(url, { ...fast, ...options });
  cleanups.push(() => c.close());
  const states = new Queue<[State, StateInfo]>();
  const errors = new Queue<Error>();
  c.onState((s, info) => states.push([s, info]));
  c.onError((e) => errors.push(e));
  return { c, states, errors };
}

async function waitState(states: Queue<[State, StateInfo]>, want: State): Promise<StateInfo> {
  for (;;) {
    const [s, info] = await states.next();
    if (s === want) return info;
  }
}

/** A client and the peer's side of its connection, both open. */
async function pair(options: ClientOptions = {}, peerOptions = {}) {
  const peer = await startPeer(peerOptions);
  const cl = client(peer.url, options);
  const conn = await peer.connections.next();
  await waitState(cl.states, 'open');
  return { peer, conn, ...cl };
}

/** Resolves with what the next call of the returned handler receives. */
function capture<T = unknown>() {
  const q = new Queue<T>();
  return { handler: (data: T) => void q.push(data), next: (ms?: number) => q.next(ms) };
}

describe('connection', () => {
  test('offers subprotocol wsevents.v1 and reaches open', async () => {
    const { peer, conn, c } = await pair();
    assert.deepEqual(peer.offered[0], ['wsevents.v1']);
    assert.equal(conn.protocol, 'wsevents.v1');
    assert.equal(c.state, 'open');
  });

  test('connecting is the first state, reported to listeners added right after connect', async () => {
    const peer = await startPeer();
    const { c, states } = client(peer.url);
    assert.equal(c.state, 'connecting');
    assert.deepEqual(await states.next(), ['connecting', {}]);
    assert.deepEqual(await states.next(), ['open', {}]);
  });

  test('a server in native mode is refused without reconnecting', async () => {
    // ws itself fails a handshake that drops the offered subprotocol, so a
    // browser-like socket stands in: it opens with protocol "" and, like a
    // browser, refuses close codes scripts may not send.
    const closes: Array<[number?, string?]> = [];
    class NativeModeSocket implements WebSocketLike {
      static made = 0;
      protocol = '';
      readyState = 0;
      binaryType = 'blob';
      onopen: ((ev: unknown) => void) | null = null;
      onmessage: ((ev: unknown) => void) | null = null;
      onclose: ((ev: unknown) => void) | null = null;
      onerror: ((ev: unknown) => void) | null = null;
      constructor(
        readonly url: string,
        readonly protocols?: string | string[],
      ) {
        NativeModeSocket.made++;
        setTimeout(() => {
          this.readyState = 1;
          this.onopen?.({});
        });
      }
      send(): void {}
      close(code?: number, reason?: string): void {
        if (code !== undefined && code !== 1000 && (code < 3000 || code > 4999)) {
          throw new Error('InvalidAccessError');
        }
        closes.push([code, reason]);
        this.readyState = 3;
        setTimeout(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? '' }));
      }
    }
    const { c, states, errors } = client('ws://native.invalid/', { WebSocket: NativeModeSocket });
    const info = await waitState(states, 'closed');
    assert.ok(info.error instanceof ProtocolError);
    assert.match((await errors.next()).message, /did not accept subprotocol wsevents\.v1/);
    assert.equal(closes.length, 1);
    assert.equal(closes[0]![0], 1000); // 1002 refused as a browser does; the reason still says why
    assert.match(closes[0]![1]!, /subprotocol/);
    assert.equal(NativeModeSocket.made, 1);
    assert.equal(c.state, 'closed');
  });

  test('options are not mutated and a bad option is refused', () => {
    const opts: ClientOptions = { WebSocket, initialDelay: undefined };
    const c = connect('ws://127.0.0.1:1/', opts);
    c.close();
    assert.deepEqual(opts, { WebSocket, initialDelay: undefined });
    assert.throws(() => connect('ws://127.0.0.1:1/', { WebSocket, jitter: 2 }), RangeError);
  });

  test('without a WebSocket implementation connect says what to pass', { skip: 'WebSocket' in globalThis }, () => {
    assert.throws(() => connect('ws://127.0.0.1:1/'), /pass options\.WebSocket/);
  });

  test('defaults and the backoff they give', () => {
    assert.deepEqual(defaultOptions, {
      reconnect: true,
      initialDelay: 500,
      maxDelay: 10000,
      factor: 2,
      jitter: 0.5,
      maxAttempts: Infinity,
      askTimeout: 10000,
      maxBufferedMessages: 1000,
      maxBufferedBytes: 1048576,
      binaryMessages: false,
    });
    const o = resolveOptions({ WebSocket });
    // random 0 gives the full delay, random 1 takes jitter (half) off it.
    assert.deepEqual([0, 1, 2, 5, 6, 50].map((n) => backoffDelay(o, n, 0)), [500, 1000, 2000, 10000, 10000, 10000]);
    assert.deepEqual([0, 1, 5].map((n) => backoffDelay(o, n, 1)), [250, 500, 5000]);
  });

  test('a malformed URL throws from connect', () => {
    assert.throws(() => connect('not a url', { WebSocket }));
  });
});

describe('events', () => {
  test('client to server: each value travels as its kind', async () => {
    const { c, conn } = await pair();
    const values: Array<[unknown, string, string | Uint8Array]> = [
      ['hello', 't', 'hello'],
      ['42', 't', '42'],
      [42, 'j', '42'],
      [-3.5, 'j', '-3.5'],
      [true, 'j', 'true'],
      [null, 'j', 'null'],
      [undefined, 'j', 'null'],
      [{ x: 1, y: [2] }, 'j', '{"x":1,"y":[2]}'],
      [[1, 'a', null], 'j', '[1,"a",null]'],
      [new Uint8Array([0, 1, 255]), 'b', new Uint8Array([0, 1, 255])],
      [new Uint8Array([7, 8]).buffer, 'b', new Uint8Array([7, 8])],
      [new Blob([new Uint8Array([9, 10])]), 'b', new Uint8Array([9, 10])],
    ];
    for (const [v] of values) c.emit('data', v);
    for (const [, kind, payload] of values) {
      const m = await conn.next();
      assert.equal(m.type, 'e');
      assert.equal(m.event, 'data');
      assert.equal(m.kind, kind);
      assert.deepEqual(m.payload, payload);
      assert.equal(m.binary, kind === 'b'); // text and JSON in text frames, bytes in binary
    }
  });

  test('a Blob keeps its place among the messages after it', async () => {
    const { c, conn } = await pair();
    c.emit('n', 1);
    c.emit('n', new Blob(['two']));
    c.emit('n', 3);
    c.emitMessage(new Blob(['four']));
    c.emit('n', 5);
    const got: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await conn.next();
      got.push(m.kind === 'b' ? new TextDecoder().decode(m.payload as Uint8Array) : m.payload);
    }
    assert.deepEqual(got, ['1', 'two', '3', 'four', '5']);
  });

  test('server to client: kinds keep their types', async () => {
    const { c, conn } = await pair();
    const got = capture();
    c.on('data', got.handler);
    conn.emit('data', 'text');
    conn.emit('data', '42');
    conn.emit('data', 42);
    conn.emit('data', false);
    conn.emit('data', null);
    conn.emit('data', { a: { b: [1] } });
    conn.emit('data', new Uint8Array([1, 2]));
    conn.send({ type: 'e', kind: 't', event: 'data', payload: 'in a binary frame' }, true);
    conn.send({ type: 'e', kind: 'j', event: 'data', payload: '{"tick":1}' }, true);
    assert.equal(await got.next(), 'text');
    assert.equal(await got.next(), '42');
    assert.equal(await got.next(), 42);
    assert.equal(await got.next(), false);
    assert.equal(await got.next(), null);
    assert.deepEqual(await got.next(), { a: { b: [1] } });
    const bytes = await got.next();
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual(bytes, new Uint8Array([1, 2]));
    assert.equal(await got.next(), 'in a binary frame');
    assert.deepEqual(await got.next(), { tick: 1 });
  });

  test('several handlers, off, and extensions ignored', async () => {
    const { c, conn } = await pair();
    const a = capture();
    const b = capture();
    c.on('x', a.handler).on('x', b.handler);
    conn.ws.send('ej:x;s=7;r=room\n1');
    assert.equal(await a.next(), 1);
    assert.equal(await b.next(), 1);
    c.off('x', a.handler);
    conn.emit('x', 2);
    assert.equal(await b.next(), 2);
    c.off('x');
    const y = capture();
    c.on('y', y.handler);
    conn.emit('x', 3);
    conn.emit('y', 'after');
    // Messages arrive in order: once y has its payload, x's has been dropped.
    assert.equal(await y.next(), 'after');
    await assert.rejects(a.next(20), /nothing within/);
  });

  test('a throwing handler and invalid JSON are reported, the connection lives', async () => {
    const { c, conn, errors } = await pair();
    c.on('boom', () => {
      throw new Error('handler failed');
    });
    c.on('async', async () => {
      throw new Error('async handler failed');
    });
    conn.emit('boom', 1);
    assert.equal((await errors.next()).message, 'handler failed');
    conn.emit('async', 1);
    assert.equal((await errors.next()).message, 'async handler failed');
    conn.send({ type: 'e', kind: 'j', event: 'boom', payload: '{not json' });
    assert.match((await errors.next()).message, /event "boom": invalid JSON payload/);
    assert.equal(c.state, 'open');
  });

  test('the server\'s rate-limit notice is reported as RateLimitedError, unknown controls ignored', async () => {
    const { c, conn, errors } = await pair();
    conn.send({ type: 'c', kind: 't', event: 'resume', payload: '' });
    conn.send({ type: 'c', kind: 'j', event: 'ratelimited', payload: '{"event":"chat","dropped":3}' });
    const err = await errors.next();
    assert.ok(err instanceof RateLimitedError);
    assert.equal(err.event, 'chat');
    assert.equal(err.dropped, 3);
    assert.match(err.message, /dropped 3 events over its rate limit/);
    assert.equal(errors.size, 0);
    assert.equal(c.state, 'open');
  });

  test('invalid event names throw', async () => {
    const { c } = await pair();
    assert.throws(() => c.emit('a;b', 1), /invalid event name/);
    assert.throws(() => c.on('', () => {}), /invalid event name/);
  });

  test('binaryMessages sends text and JSON in binary frames', async () => {
    const { c, conn } = await pair({ binaryMessages: true });
    c.emit('t', 'hi');
    c.emit('j', [1]);
    const t = await conn.next();
    const j = await conn.next();
    assert.deepEqual([t.binary, t.kind, t.payload], [true, 't', 'hi']);
    assert.deepEqual([j.binary, j.kind, j.payload], [true, 'j', '[1]']);
  });
});

describe('ask from the client', () => {
  test('resolves with the reply, keeping its kind', async () => {
    const { c, conn } = await pair();
    const sum = c.ask('sum', [1, 2]);
    const text = c.ask('whoami', '');
    const bin = c.ask('bytes', null);
    const a1 = await conn.next();
    const a2 = await conn.next();
    const a3 = await conn.next();
    assert.deepEqual([a1.type, a1.id, a1.event, a1.kind, a1.payload], ['a', 1, 'sum', 'j', '[1,2]']);
    assert.deepEqual([a2.id, a2.kind, a2.payload], [2, 't', '']);
    assert.equal(a3.id, 3);
    // Out of order, as a server may answer.
    conn.reply(3, new Uint8Array([5]));
    conn.reply(2, 'ann');
    conn.reply(1, 3);
    assert.equal(await sum, 3);
    assert.equal(await text, 'ann');
    assert.deepEqual(await bin, new Uint8Array([5]));
  });

  test('an error reply rejects with the peer text', async () => {
    const { c, conn } = await pair();
    const p = c.ask('user', 7);
    const a = await conn.next();
    conn.replyError(a.id, 'no such user');
    await assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof RemoteError);
      assert.equal(err.message, 'no such user');
      assert.equal(err.event, 'user');
      return true;
    });
  });

  test('times out, and a late reply is ignored', async () => {
    const { c, conn, errors } = await pair();
    const p = c.ask('slow', 1, { timeout: 50 });
    const a = await conn.next();
    await assert.rejects(p, (err: unknown) => err instanceof TimeoutError && /timed out after 50 ms/.test(err.message));
    conn.reply(a.id, 'late');
    conn.replyError(999, 'unknown id');
    // Still usable afterwards.
    const q = c.ask('again', 1);
    const a2 = await conn.next();
    conn.reply(a2.id, 'ok');
    assert.equal(await q, 'ok');
    assert.equal(errors.size, 0);
  });

  test('the default timeout is the askTimeout option', async () => {
    const { c } = await pair({ askTimeout: 30 });
    await assert.rejects(c.ask('never', 1), TimeoutError);
  });

  test('a dropped connection rejects pending asks; ids restart per connection', async () => {
    const { peer, c, conn, states } = await pair();
    const p = c.ask('x', 1);
    assert.equal((await conn.next()).id, 1);
    conn.ws.terminate();
    await assert.rejects(p, DisconnectedError);
    await waitState(states, 'open');
    const conn2 = await peer.connections.next();
    const q = c.ask('x', 2);
    const a = await conn2.next();
    assert.equal(a.id, 1);
    conn2.reply(a.id, 'again');
    assert.equal(await q, 'again');
  });

  test('an ask that times out in the offline buffer is never sent', async () => {
    const peer = await startPeer();
    const port = peer.port;
    const { c, states } = client(peer.url);
    await peer.connections.next();
    await waitState(states, 'open');
    await peer.stop();
    await waitState(states, 'reconnecting');
    await assert.rejects(c.ask('stale', 1, { timeout: 10 }), TimeoutError);
    c.emit('fresh', 1);
    assert.equal(c.stats.buffered, 1);
    const peer2 = await startPeer({ port });
    const conn = await peer2.connections.next();
    const m = await conn.next();
    assert.equal(m.event, 'fresh');
  });
});

describe('ask from the server', () => {
  test('handlers answer with values, promises and errors', async () => {
    const { c, conn } = await pair();
    c.on('sum', (nums: number[]) => nums.reduce((a, b) => a + b, 0));
    c.on('later', async (s: string) => {
      await sleep(5);
      return s.toUpperCase();
    });
    c.on('fails', () => {
      throw new Error('cannot do that');
    });
    c.on('rejects', () => Promise.reject(new Error('async refusal')));
    c.on('silent', () => {});
    c.on('bytes', () => new Uint8Array([1, 2]));
    c.on('blob', () => new Blob(['b']));
    conn.ask(1, 'sum', [1, 2, 3]);
    conn.ask(2, 'later', 'abc');
    conn.ask(3, 'fails', null);
    conn.ask(4, 'rejects', null);
    conn.ask(5, 'silent', null);
    conn.ask(6, 'nobody', null);
    conn.ask(7, 'bytes', null);
    conn.ask(8, 'blob', null);
    conn.send({ type: 'a', id: 9, kind: 'j', event: 'sum', payload: '[oops' });
    const replies = new Map<number, { type: string; kind: string; payload: unknown }>();
    for (let i = 0; i < 9; i++) {
      const m = await conn.next();
      replies.set(m.id, { type: m.type, kind: m.kind, payload: m.payload });
    }
    assert.deepEqual(replies.get(1), { type: 'r', kind: 'j', payload: '6' });
    assert.deepEqual(replies.get(2), { type: 'r', kind: 't', payload: 'ABC' });
    assert.deepEqual(replies.get(3), { type: 'x', kind: 't', payload: 'cannot do that' });
    assert.deepEqual(replies.get(4), { type: 'x', kind: 't', payload: 'async refusal' });
    assert.deepEqual(replies.get(5), { type: 'r', kind: 'j', payload: 'null' });
    assert.deepEqual(replies.get(6), { type: 'x', kind: 't', payload: 'wsevents: no handler for event "nobody"' });
    assert.deepEqual(replies.get(7), { type: 'r', kind: 'b', payload: new Uint8Array([1, 2]) });
    assert.deepEqual(replies.get(8), { type: 'r', kind: 'b', payload: new Uint8Array([98]) });
    assert.equal(replies.get(9)!.type, 'x');
    assert.match(String(replies.get(9)!.payload), /invalid JSON payload/);
  });

  test('the first handler answers, the others still run', async () => {
    const { c, conn } = await pair();
    const second = capture();
    c.on('q', () => 'first');
    c.on('q', second.handler);
    conn.ask(1, 'q', 'x');
    assert.equal((await conn.next()).payload, 'first');
    assert.equal(await second.next(), 'x');
  });
});

describe('native messages', () => {
  test('both ways, text and binary', async () => {
    const { c, conn } = await pair();
    const got = new Queue<string | Uint8Array>();
    const stop = c.onMessage((d) => got.push(d));
    conn.send({ type: 'm', kind: 't', payload: 'plain text' });
    conn.send({ type: 'm', kind: 'b', payload: new Uint8Array([0, 255]) });
    assert.equal(await got.next(), 'plain text');
    assert.deepEqual(await got.next(), new Uint8Array([0, 255]));
    stop();
    c.emitMessage('from client');
    c.emitMessage(new Uint8Array([1]));
    const t = await conn.next();
    const b = await conn.next();
    assert.deepEqual([t.type, t.kind, t.payload, t.binary], ['m', 't', 'from client', false]);
    assert.deepEqual([b.type, b.kind, b.payload, b.binary], ['m', 'b', new Uint8Array([1]), true]);
    assert.throws(() => c.emitMessage(42 as never), TypeError);
  });
});

describe('reconnect', () => {
  test('after the server closes: states, backoff and the buffer flushed in order', async () => {
    const { peer, c, conn, states } = await pair();
    conn.close(1001, 'going away');
    const info = await waitState(states, 'reconnecting');
    assert.deepEqual(info, { code: 1001, reason: 'going away', attempt: 1, delay: 20 });
    // Emitted while disconnected: buffered.
    c.emit('seq', 1);
    c.emit('seq', 'two');
    c.emitMessage('three');
    c.emit('seq', new Uint8Array([4]));
    assert.equal(c.stats.buffered, 4);
    await waitState(states, 'open');
    const conn2 = await peer.connections.next();
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await conn2.next()).payload);
    assert.deepEqual(got, ['1', 'two', 'three', new Uint8Array([4])]);
    assert.equal(c.stats.buffered, 0);
  });

  test('after a server restart, with growing delays while it is down', async () => {
    const peer = await startPeer();
    const port = peer.port;
    const { c, states } = client(peer.url, { initialDelay: 10, maxDelay: 40 });
    await peer.connections.next();
    await waitState(states, 'open');
    c.emit('before', 0);
    await peer.stop();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [s, info] = await states.next();
      assert.equal(s, 'reconnecting');
      assert.equal(info.attempt, i + 1);
      delays.push(info.delay!);
      if (i === 0) for (let n = 1; n <= 3; n++) c.emit('queued', n);
    }
    assert.deepEqual(delays, [10, 20, 40, 40]); // factor 2, capped at maxDelay
    const peer2 = await startPeer({ port });
    await waitState(states, 'open');
    const conn = await peer2.connections.next();
    for (let n = 1; n <= 3; n++) {
      const m = await conn.next();
      assert.deepEqual([m.event, m.payload], ['queued', String(n)]);
    }
  });

  test('a first dial that fails is retried', async () => {
    const probe = await Peer.start();
    const port = probe.port;
    await probe.stop();
    const { c, states } = client(`ws://127.0.0.1:${port}/`);
    c.emit('early', 'bird');
    await waitState(states, 'reconnecting');
    const peer = await startPeer({ port });
    const conn = await peer.connections.next();
    assert.equal((await conn.next()).payload, 'bird');
  });

  for (const code of [1008, 1002, 1003, 1007, 1009, 1010]) {
    test(`no reconnect after close code ${code}`, async () => {
      const { peer, c, conn, states } = await pair();
      conn.close(code, 'refused');
      const info = await waitState(states, 'closed');
      assert.equal(info.code, code);
      assert.ok(info.error instanceof ClosedError);
      await sleep(100); // several initialDelays
      assert.equal(peer.all.length, 1);
      assert.throws(() => c.emit('x', 1), ClosedError);
    });
  }

  test('maxAttempts gives up', async () => {
    const probe = await Peer.start();
    await probe.stop();
    const { states } = client(`ws://127.0.0.1:${probe.port}/`, { maxAttempts: 2, initialDelay: 5 });
    const seen: State[] = [];
    for (;;) {
      const [s, info] = await states.next();
      seen.push(s);
      if (s === 'closed') {
        assert.match(info.error!.message, /gave up after 2 reconnect attempts/);
        break;
      }
    }
    assert.deepEqual(seen, ['connecting', 'reconnecting', 'reconnecting', 'closed']);
  });

  test('reconnect false closes on the first drop', async () => {
    const { conn, states } = await pair({ reconnect: false });
    conn.close(1001);
    const info = await waitState(states, 'closed');
    assert.equal(info.code, 1001);
  });

  test('a malformed message closes with 1002 and does not reconnect', async () => {
    const { peer, conn, states, errors } = await pair();
    conn.ws.send('qt:nonsense\nx');
    const info = await waitState(states, 'closed');
    assert.ok(info.error instanceof ProtocolError);
    assert.match((await errors.next()).message, /unknown type/);
    const closed = await conn.closed;
    assert.equal(closed.code, 1002);
    assert.match(closed.reason, /protocol error/);
    await sleep(60);
    assert.equal(peer.all.length, 1);
  });
});

describe('offline buffer', () => {
  test('bounded by count: overflow throws and is counted', async () => {
    const probe = await Peer.start();
    await probe.stop();
    const { c } = client(`ws://127.0.0.1:${probe.port}/`, { maxBufferedMessages: 3 });
    c.emit('a', 1);
    c.emit('a', 2);
    c.emit('a', 3);
    assert.throws(() => c.emit('a', 4), BufferFullError);
    assert.throws(() => c.emitMessage('x'), BufferFullError);
    await assert.rejects(c.ask('a', 5), BufferFullError);
    assert.deepEqual(c.stats, { buffered: 3, bufferedBytes: 3, dropped: 3 });
  });

  test('bounded by bytes', async () => {
    const probe = await Peer.start();
    await probe.stop();
    const { c } = client(`ws://127.0.0.1:${probe.port}/`, { maxBufferedBytes: 10 });
    c.emit('a', 'ñññññ'); // 10 bytes in UTF-8
    assert.throws(() => c.emit('a', 'x'), BufferFullError);
    c.emit('a', ''); // empty payloads still fit
    assert.deepEqual(c.stats, { buffered: 2, bufferedBytes: 10, dropped: 1 });
  });

  test('a buffered byte payload is a copy', async () => {
    const peer = await startPeer();
    const port = peer.port;
    const { c, states } = client(peer.url);
    await peer.connections.next();
    await waitState(states, 'open');
    await peer.stop();
    await waitState(states, 'reconnecting');
    const bytes = new Uint8Array([1, 2, 3]);
    c.emit('b', bytes);
    bytes[0] = 99;
    const peer2 = await startPeer({ port });
    const conn = await peer2.connections.next();
    assert.deepEqual((await conn.next()).payload, new Uint8Array([1, 2, 3]));
  });

  test('messages too big for the buffer still go out while connected', async () => {
    const { c, conn } = await pair({ maxBufferedBytes: 4 });
    c.emit('big', 'more than four bytes');
    assert.equal((await conn.next()).payload, 'more than four bytes');
  });
});

describe('close', () => {
  test('close() ends for good: code 1000, asks rejected, emits refused', async () => {
    const { peer, c, conn, states } = await pair();
    const p = c.ask('pending', 1);
    await conn.next();
    c.close();
    assert.equal(c.state, 'closed');
    const info = await waitState(states, 'closed');
    assert.equal(info.code, 1000);
    await assert.rejects(p, ClosedError);
    assert.throws(() => c.emit('x', 1), ClosedError);
    await assert.rejects(c.ask('x', 1), ClosedError);
    assert.equal((await conn.closed).code, 1000);
    await sleep(60);
    assert.equal(peer.all.length, 1);
  });

  test('close() while reconnecting stops the retries and drops the buffer', async () => {
    const { peer, c, conn, states } = await pair({ initialDelay: 50 });
    conn.close(1001);
    await waitState(states, 'reconnecting');
    c.emit('x', 1);
    const queued = c.ask('q', 1);
    c.close();
    await assert.rejects(queued, ClosedError);
    assert.equal(c.stats.buffered, 0);
    await sleep(120);
    assert.equal(peer.all.length, 1);
  });
});

describe('legacy Ws API', () => {
  test('OnConnect, On, Emit, EmitMessage, OnMessage, OnDisconnect, Disconnect', async () => {
    const peer = await startPeer({ echo: true });
    const ws = new Ws(peer.url, fast);
    cleanups.push(() => ws.Disconnect());
    const connected = new Queue<true>();
    ws.OnConnect(() => connected.push(true));
    await connected.next();
    // Registered when already open: called at once.
    let immediate = false;
    ws.OnConnect(() => (immediate = true));
    assert.equal(immediate, true);

    // The echo peer sends each event back with its kind: types round-trip.
    const got = new Queue<unknown>();
    ws.On('echo', (d) => got.push(d));
    const values = ['text', '42', 42, 1.5, true, false, null, { a: 1, b: ['x'] }, [1, 2], new Uint8Array([3])];
    for (const v of values) ws.Emit('echo', v);
    for (const v of values) assert.deepEqual(await got.next(), v);
    ws.Emit('echo');
    assert.equal(await got.next(), null);

    const native = new Queue<string | Uint8Array>();
    ws.OnMessage((m) => native.push(m));
    ws.EmitMessage('native text');
    assert.equal(await native.next(), 'native text');

    const disconnected = new Queue<true>();
    ws.OnDisconnect(() => disconnected.push(true));
    const conn = peer.all[0]!;
    ws.Disconnect();
    await disconnected.next();
    assert.equal((await conn.closed).code, 1000);
    assert.equal(ws.client.state, 'closed');
  });

  test('reconnects: OnDisconnect then OnConnect again', async () => {
    const peer = await startPeer({ echo: true });
    const ws = new Ws(peer.url, fast);
    cleanups.push(() => ws.Disconnect());
    const events = new Queue<string>();
    ws.OnConnect(() => events.push('connect'));
    ws.OnDisconnect(() => events.push('disconnect'));
    assert.equal(await events.next(), 'connect');
    (await peer.connections.next()).close(1001);
    assert.equal(await events.next(), 'disconnect');
    assert.equal(await events.next(), 'connect');
  });
});

after(() => {
  // A leftover socket or timer would keep node --test from finishing; fail loudly instead.
  assert.equal(cleanups.length, 0);
});
