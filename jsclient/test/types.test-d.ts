// Type tests of the typed event maps: checked by `tsc -p test` (part of npm
// test), never run. Each @ts-expect-error line must fail to compile; if it
// compiles, tsc reports the unused directive and the test fails.

import { WebSocket } from 'ws';
import { Client, Ws, connect, type Message, type NativeData, type State, type StateInfo } from '../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T>(_value: T): void {}
function assertEqual<A, B>(_proof: Equal<A, B>): void {}

/** What the server sends (and asks) this client. */
interface ServerEvents {
  chat: string;
  move: { x: number; y: number };
  tick: number;
  bytes: Uint8Array;
  ping: void;
  confirm: (question: string) => boolean;
}

/** What this client emits (and asks) the server. */
interface ClientEvents {
  chat: string;
  move: { x: number; y: number };
  ping: void;
  upload: Uint8Array | Blob;
  sum: (nums: number[]) => number;
}

declare const c: Client<ServerEvents, ClientEvents>;

export function typeTests(): void {
  // ---- on: handlers get the payload type ----
  c.on('chat', (text) => expectType<string>(text));
  c.on('move', (m) => m.x + m.y);
  c.on('bytes', (b) => assertEqual<typeof b, Uint8Array>(true));
  c.on('ping', () => {});
  // @ts-expect-error chat carries a string, not a number
  c.on('chat', (n: number) => n);
  // @ts-expect-error move's payload has no z
  c.on('move', (m) => m.z);
  // @ts-expect-error unknown event
  c.on('nope', () => {});
  // @ts-expect-error upload is emitted by the client, never received
  c.on('upload', () => {});

  // ---- on for asks: the return value is the reply ----
  c.on('confirm', (q) => q.length > 0);
  c.on('confirm', async (q) => q === 'yes');
  // @ts-expect-error the reply must be a boolean
  c.on('confirm', () => 'sure');
  // @ts-expect-error the question is a string
  c.on('confirm', (q: number) => q > 0);

  // ---- off ----
  const h = (text: string) => text;
  c.on('chat', h).off('chat', h).off('chat');
  // @ts-expect-error wrong handler type for the event
  c.off('tick', h);

  // ---- emit ----
  c.emit('chat', 'hi');
  c.emit('move', { x: 1, y: 2 });
  c.emit('upload', new Uint8Array(1));
  c.emit('upload', new Blob([]));
  c.emit('ping');
  // @ts-expect-error chat takes a string
  c.emit('chat', 42);
  // @ts-expect-error move needs y
  c.emit('move', { x: 1 });
  // @ts-expect-error the payload is required
  c.emit('chat');
  // @ts-expect-error tick is only received
  c.emit('tick', 1);
  // @ts-expect-error unknown event
  c.emit('nope', 1);

  // ---- ask: payload and reply types from the map ----
  const sum = c.ask('sum', [1, 2], { timeout: 100 });
  assertEqual<typeof sum, Promise<number>>(true);
  const moved = c.ask('move', { x: 1, y: 2 });
  assertEqual<typeof moved, Promise<unknown>>(true);
  // @ts-expect-error sum takes numbers
  c.ask('sum', ['a']);
  // @ts-expect-error the reply is a number
  const wrong: Promise<string> = c.ask('sum', [1]);
  // @ts-expect-error timeout is a number
  c.ask('sum', [1], { timeout: '1s' });

  // ---- native messages, state, errors ----
  const stopMessages = c.onMessage((d) => assertEqual<typeof d, NativeData>(true));
  stopMessages();
  c.emitMessage('text');
  c.emitMessage(new Uint8Array(2));
  c.emitMessage(new ArrayBuffer(2));
  c.emitMessage(new Blob([]));
  // @ts-expect-error native messages are text or bytes
  c.emitMessage({ a: 1 });
  c.onState((s, info) => {
    assertEqual<typeof s, State>(true);
    assertEqual<typeof info, StateInfo>(true);
  });
  c.onError((e) => expectType<Error>(e));
  assertEqual<typeof c.state, State>(true);

  // ---- untyped client: anything goes ----
  const u = connect('ws://localhost/', { WebSocket });
  assertEqual<typeof u, Client>(true);
  u.on('anything', (d) => d.whatever);
  u.emit('anything', { a: 1 });
  u.emit('anything', 'text');
  const reply = u.ask('q', 1);
  assertEqual<typeof reply, Promise<unknown>>(true);

  // ---- one map for both directions ----
  const same = connect<{ chat: string }>('ws://localhost/', { WebSocket });
  same.on('chat', (s) => expectType<string>(s));
  same.emit('chat', 'x');
  // @ts-expect-error
  same.emit('chat', 1);

  // ---- options ----
  connect('ws://localhost/', { WebSocket, reconnect: false, initialDelay: 100, maxBufferedBytes: 1 << 10 });
  // @ts-expect-error delays are numbers
  connect('ws://localhost/', { initialDelay: '500' });
  // @ts-expect-error not a WebSocket constructor
  connect('ws://localhost/', { WebSocket: Date });

  // ---- legacy API ----
  const ws = new Ws('ws://localhost/', { WebSocket });
  ws.OnConnect(() => ws.Emit('chat', 'hi'));
  ws.On('chat', (msg) => msg);
  ws.Emit('ping');
  ws.EmitMessage('native');
  ws.OnMessage((m) => expectType<NativeData>(m));
  ws.OnDisconnect(() => {});
  ws.Disconnect();
  // @ts-expect-error On needs a handler
  ws.On('chat');

  // ---- protocol types ----
  const m = {} as Message;
  if (m.kind === 'b') assertEqual<typeof m.payload, Uint8Array>(true);
  else assertEqual<typeof m.payload, string>(true);

  void wrong;
}
