// The client: one connection in event mode, kept up by reconnecting, with an
// outbox that is both the send queue and the offline buffer. The legacy Ws
// class (ws.ts) is a thin layer over this.

import {
  BufferFullError,
  ClosedError,
  DisconnectedError,
  ProtocolError,
  RateLimitedError,
  RemoteError,
  TimeoutError,
} from './errors.js';
import {
  SUBPROTOCOL,
  checkEventName,
  decode,
  encode,
  parsePayload,
  toPayload,
  utf8Length,
  type Kind,
  type Message,
  type Payload,
} from './protocol.js';
import {
  backoffDelay,
  resolveOptions,
  type ClientOptions,
  type ResolvedOptions,
  type WebSocketLike,
} from './options.js';
import type {
  AnyEvents,
  AskOptions,
  ClientStats,
  EventMap,
  HandlerOf,
  NativeData,
  NativeInput,
  PayloadArgs,
  PayloadOf,
  ReplyOf,
  State,
  StateInfo,
} from './types.js';

// Close codes after which a reconnect would meet the same refusal: the server
// applied a policy (1008) or judged what this client sent (1002 protocol
// error, 1003 unsupported data, 1007 invalid payload, 1009 too big, 1010
// missing extension).
const FINAL_CLOSE_CODES = new Set([1002, 1003, 1007, 1008, 1009, 1010]);

// WebSocket.OPEN; a constant rather than read from the constructor, which
// an injected implementation need not carry.
const OPEN = 1;

/** A message waiting in the outbox. */
interface Outgoing {
  type: 'e' | 'a' | 'r' | 'x' | 'm';
  kind: Kind;
  event: string;
  /** The reply's id; asks get theirs when sent, ids being per connection. */
  id: number;
  /** undefined while a Blob is being read. */
  payload: string | Uint8Array | undefined;
  /** Payload bytes, counted against maxBufferedBytes. */
  size: number;
  /** Set when reading a Blob failed; the message is then dropped. */
  error?: unknown;
  ask?: PendingAsk;
  /** Replies belong to the connection the ask came on. */
  socket?: WebSocketLike;
}

interface PendingAsk {
  event: string;
  /** The id it was sent with; 0 while it waits in the outbox. */
  id: number;
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer?: ReturnType<typeof setTimeout>;
  /** Set while the ask still waits in the outbox. */
  queued?: Outgoing;
}

type AnyHandler = (data: any) => unknown;

/**
 * Connects to a wsevents server. The client dials at once and keeps the
 * connection up (see ClientOptions.reconnect); messages emitted meanwhile wait
 * in the offline buffer.
 *
 *   const client = connect<MyEvents>('wss://example.com/chat');
 *   client.on('chat', (text) => show(text));
 *   client.emit('chat', 'hello');
 *   const sum = await client.ask('sum', [1, 2]);
 */
export function connect<In extends EventMap = AnyEvents, Out extends EventMap = In>(
  url: string,
  options?: ClientOptions,
): Client<In, Out> {
  return new Client<In, Out>(url, options);
}

/**
 * A wsevents client. In is the map of events it receives (and asks it
 * answers), Out the map of events it emits and asks; both default to any
 * event with any payload.
 *
 * Payload kinds: a string travels as text and arrives as a string; Uint8Array,
 * ArrayBuffer, typed arrays and Blob travel as bytes and arrive as Uint8Array;
 * everything else travels as JSON (undefined as null) and arrives parsed.
 *
 * Handlers run synchronously as messages arrive. Errors they throw for plain
 * events go to onError listeners (to console.error when there are none).
 */
export class Client<In extends EventMap = AnyEvents, Out extends EventMap = In> {
  readonly url: string;
  private readonly opts: ResolvedOptions;
  private currentState: State = 'connecting';
  private socket: WebSocketLike | undefined;
  /** Reconnect attempts since the last open connection. */
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  private readonly handlers = new Map<string, AnyHandler[]>();
  private readonly messageListeners: Array<(data: NativeData) => void> = [];
  private readonly stateListeners: Array<(state: State, info: StateInfo) => void> = [];
  private readonly errorListeners: Array<(err: Error) => void> = [];

  private outbox: Outgoing[] = [];
  private outboxBytes = 0;
  private dropped = 0;
  private lastAskId = 0;
  private readonly pending = new Map<number, PendingAsk>();

  constructor(url: string, options?: ClientOptions) {
    this.url = url;
    this.opts = resolveOptions(options);
    // A bad URL throws here, to the caller, rather than looping reconnects.
    this.dial();
    // Reported after the caller has had the chance to add listeners.
    queueMicrotask(() => {
      if (this.currentState === 'connecting') this.notifyState({});
    });
  }

  /** The connection state; onState reports its changes. */
  get state(): State {
    return this.currentState;
  }

  /** Offline buffer and drop counters. */
  get stats(): ClientStats {
    return { buffered: this.outbox.length, bufferedBytes: this.outboxBytes, dropped: this.dropped };
  }

  /**
   * Adds a handler for an event. Several handlers may share an event; when
   * the server asks it, the first one added answers and the others only run.
   */
  on<E extends keyof In & string>(event: E, handler: HandlerOf<In[E]>): this {
    checkEventName(event);
    const list = this.handlers.get(event);
    if (list) list.push(handler as AnyHandler);
    else this.handlers.set(event, [handler as AnyHandler]);
    return this;
  }

  /** Removes one handler of an event, or all of them when handler is left out. */
  off<E extends keyof In & string>(event: E, handler?: HandlerOf<In[E]>): this {
    const list = this.handlers.get(event);
    if (!list) return this;
    const i = handler ? list.indexOf(handler as AnyHandler) : -1;
    if (handler && i >= 0) list.splice(i, 1);
    if (!handler || list.length === 0) this.handlers.delete(event);
    return this;
  }

  /**
   * Sends an event. While not connected it waits in the offline buffer; when
   * that is full this throws BufferFullError. Throws ClosedError once the
   * client is closed and InvalidEventError for a name the protocol forbids.
   */
  emit<E extends keyof Out & string>(event: E, ...data: PayloadArgs<Out[E]>): void {
    checkEventName(event);
    this.enqueue(this.outgoing('e', event, data[0]));
  }

  /**
   * Asks the server and resolves with its reply. Rejects with RemoteError
   * (the server's error text) on an error reply, TimeoutError when no reply
   * comes in time, DisconnectedError when the connection drops first, and with
   * the errors emit throws.
   */
  ask<E extends keyof Out & string>(
    event: E,
    data: PayloadOf<Out[E]>,
    options?: AskOptions,
  ): Promise<ReplyOf<Out[E]>> {
    return new Promise((resolve, reject) => {
      checkEventName(event);
      const ask: PendingAsk = { event, id: 0, resolve: resolve as (v: unknown) => void, reject };
      const item = this.outgoing('a', event, data);
      item.ask = ask;
      ask.queued = item;
      const timeout = options?.timeout ?? this.opts.askTimeout;
      if (timeout > 0 && timeout < Infinity) {
        ask.timer = setTimeout(() => this.expire(ask, timeout), timeout);
      }
      try {
        this.enqueue(item);
      } catch (err) {
        clearTimeout(ask.timer);
        throw err; // rejects the promise
      }
    });
  }

  /**
   * Sends a native message (type m): the server delivers it to its OnMessage
   * handlers. Text stays text; bytes and Blobs go as binary. Buffered like emit.
   */
  emitMessage(data: NativeInput): void {
    const item = this.outgoing('m', '', data);
    if (item.kind === 'j') throw new TypeError('wsevents: a native message is a string or bytes');
    this.enqueue(item);
  }

  /** Listens to native messages from the server. Returns a function that removes the listener. */
  onMessage(listener: (data: NativeData) => void): () => void {
    return addListener(this.messageListeners, listener);
  }

  /**
   * Listens to state changes. reconnecting is reported before every attempt,
   * with its number and delay. Returns a function that removes the listener.
   */
  onState(listener: (state: State, info: StateInfo) => void): () => void {
    return addListener(this.stateListeners, listener);
  }

  /**
   * Listens to errors no call can return: a handler that threw, a JSON
   * payload that does not parse, a malformed message from the server, a Blob
   * that could not be read, events the server dropped over its rate limit
   * (RateLimitedError). Returns a function that removes the listener.
   */
  onError(listener: (err: Error) => void): () => void {
    return addListener(this.errorListeners, listener);
  }

  /**
   * Closes the connection for good (code 1000 unless given). Asks still
   * waiting reject with ClosedError and the offline buffer is discarded.
   */
  close(code = 1000, reason = ''): void {
    this.stop({ code, reason });
  }

  // ---- connection lifecycle ----

  private dial(): void {
    const socket = new this.opts.WebSocket(this.url, SUBPROTOCOL);
    socket.binaryType = 'arraybuffer';
    // Every callback first checks that its socket is still the current one:
    // a socket left behind by close() or a reconnect may still fire.
    socket.onopen = () => {
      if (socket === this.socket) this.opened(socket);
    };
    socket.onmessage = (ev: { data: unknown }) => {
      if (socket === this.socket) this.receive(socket, ev.data);
    };
    socket.onclose = (ev: { code?: number; reason?: string }) => {
      if (socket === this.socket) this.closed(ev.code ?? 1005, ev.reason ?? '');
    };
    // A close event always follows; the handler must exist all the same, as
    // the ws package throws on an error nobody listens to.
    socket.onerror = () => {};
    this.socket = socket;
  }

  private opened(socket: WebSocketLike): void {
    if (socket.protocol !== SUBPROTOCOL) {
      // The server answered in native mode: no event will ever work there.
      this.fail(new ProtocolError(`wsevents: server did not accept subprotocol ${SUBPROTOCOL}`));
      return;
    }
    this.attempt = 0;
    this.lastAskId = 0;
    this.currentState = 'open';
    // The buffer goes out before listeners run, so what they emit on open
    // follows what was emitted earlier, in call order.
    this.flush();
    this.notifyState({});
  }

  private closed(code: number, reason: string): void {
    this.socket = undefined;
    // Ids are per connection: a reply to these can no longer arrive.
    this.rejectPending((ask) => new DisconnectedError(ask.event));
    this.outbox = this.outbox.filter((item) => {
      // Queued replies answer asks of the connection that ended.
      if (item.socket) this.outboxBytes -= item.size;
      return !item.socket;
    });
    const o = this.opts;
    if (FINAL_CLOSE_CODES.has(code)) {
      const why = `wsevents: server closed the connection with ${code}${reason ? ` (${reason})` : ''}; not reconnecting`;
      this.stop({ code, reason, error: new ClosedError(why) });
      return;
    }
    if (!o.reconnect) {
      this.stop({ code, reason });
      return;
    }
    if (this.attempt >= o.maxAttempts) {
      const why = `wsevents: gave up after ${this.attempt} reconnect attempts`;
      this.stop({ code, reason, error: new ClosedError(why) });
      return;
    }
    const delay = backoffDelay(o, this.attempt);
    this.attempt++;
    this.currentState = 'reconnecting';
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      try {
        this.dial();
      } catch (err) {
        this.stop({ error: asError(err) });
      }
    }, delay);
    this.notifyState({ code, reason, attempt: this.attempt, delay });
  }

  /**
   * Ends the client because of a fault that reconnecting would meet again:
   * a malformed message from the server, or a server in native mode.
   */
  private fail(err: Error): void {
    this.report(err);
    // PROTOCOL.md asks for 1002. Browsers let scripts send only 1000 and
    // 3000-4999, so there closeSocket falls back to 1000 with the reason.
    this.stop({ code: 1002, reason: err.message, error: err });
  }

  /**
   * Moves to closed for good: closes the socket if there is one and releases
   * everything that waits. The socket's own close event is ignored from here.
   */
  private stop(info: StateInfo): void {
    if (this.currentState === 'closed') return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    const closedErr = new ClosedError();
    this.rejectPending(() => closedErr);
    for (const item of this.outbox) if (item.ask) this.settleAsk(item.ask, closedErr);
    this.outbox = [];
    this.outboxBytes = 0;
    this.currentState = 'closed';
    if (socket) closeSocket(socket, info.code ?? 1000, info.reason ?? '');
    this.notifyState(info);
  }

  private rejectPending(errorFor: (ask: PendingAsk) => Error): void {
    for (const ask of this.pending.values()) this.settleAsk(ask, errorFor(ask));
    this.pending.clear();
  }

  // ---- sending ----

  /** Builds an outbox entry, mapping data to its kind. */
  private outgoing(type: Outgoing['type'], event: string, data: unknown): Outgoing {
    if (typeof Blob !== 'undefined' && data instanceof Blob) {
      const item: Outgoing = { type, kind: 'b', event, id: 0, payload: undefined, size: data.size };
      // The read starts now, in parallel with whatever is ahead in the
      // outbox; flush() stops at this entry until it is done, so the messages
      // emitted after the Blob stay behind it.
      data.arrayBuffer().then(
        (buf) => {
          item.payload = new Uint8Array(buf);
          this.flush();
        },
        (err: unknown) => {
          item.error = err;
          item.payload = new Uint8Array(0);
          this.flush();
        },
      );
      return item;
    }
    const p: Payload = toPayload(data);
    return { type, kind: p.kind, event, id: 0, payload: p.payload, size: 0 };
  }

  private enqueue(item: Outgoing): void {
    if (this.currentState === 'closed') throw new ClosedError();
    const direct =
      this.currentState === 'open' &&
      this.socket?.readyState === OPEN &&
      this.outbox.length === 0 &&
      item.payload !== undefined;
    if (!direct) {
      // It will wait: count it against the bounds, and copy bytes the caller
      // may reuse before they are sent.
      if (item.payload instanceof Uint8Array) {
        item.payload = item.payload.slice();
        item.size = item.payload.byteLength;
      } else if (typeof item.payload === 'string') {
        item.size = utf8Length(item.payload);
      }
      const o = this.opts;
      if (this.outbox.length + 1 > o.maxBufferedMessages || this.outboxBytes + item.size > o.maxBufferedBytes) {
        this.dropped++;
        throw new BufferFullError();
      }
      this.outboxBytes += item.size;
    }
    this.outbox.push(item);
    this.flush();
  }

  /** Sends from the head of the outbox while connected and the head is ready. */
  private flush(): void {
    const socket = this.socket;
    // A socket that is closing but has not reported its close yet would drop
    // what it is given; the outbox keeps it for the next connection instead.
    while (this.currentState === 'open' && socket?.readyState === OPEN && this.outbox.length > 0) {
      const item = this.outbox[0]!;
      if (item.payload === undefined) return; // Blob still being read; its read calls flush
      this.outbox.shift();
      this.outboxBytes -= item.size;
      if (item.error !== undefined) {
        const err = new Error(`wsevents: reading Blob for "${item.event}" failed: ${asError(item.error).message}`);
        if (item.ask) this.settleAsk(item.ask, err);
        else this.report(err);
        continue;
      }
      let id = item.id;
      if (item.ask) {
        id = ++this.lastAskId;
        item.ask.id = id;
        item.ask.queued = undefined;
        this.pending.set(id, item.ask);
      }
      const frame = encode(
        { type: item.type, kind: item.kind, id, event: item.event, payload: item.payload } as Message,
        { binary: this.opts.binaryMessages },
      );
      try {
        socket.send(frame);
      } catch (err) {
        // The socket is closing under us; its close event will follow.
        this.report(asError(err));
        return;
      }
    }
  }

  // ---- receiving ----

  private receive(socket: WebSocketLike, data: unknown): void {
    let msg: Message;
    try {
      msg = decode(data as string | ArrayBuffer | Uint8Array);
    } catch (err) {
      this.fail(asError(err));
      return;
    }
    switch (msg.type) {
      case 'e':
        this.deliver(msg);
        break;
      case 'a':
        this.answer(socket, msg);
        break;
      case 'r':
      case 'x':
        this.settleReply(msg);
        break;
      case 'm':
        for (const listener of this.messageListeners.slice()) this.call(listener, msg.payload);
        break;
      case 'c':
        this.control(msg);
        break;
    }
  }

  /** Control messages (PROTOCOL.md section 2); unknown names are ignored. */
  private control(msg: Message): void {
    if (msg.event !== 'ratelimited') return;
    let notice: { event?: unknown; dropped?: unknown };
    try {
      notice = parsePayload(msg) as typeof notice;
    } catch {
      return;
    }
    const event = typeof notice?.event === 'string' ? notice.event : '';
    const dropped = typeof notice?.dropped === 'number' ? notice.dropped : 0;
    this.report(new RateLimitedError(event, dropped));
  }

  private deliver(msg: Message): void {
    const list = this.handlers.get(msg.event);
    if (!list) return;
    let value: unknown;
    try {
      value = parsePayload(msg);
    } catch (err) {
      this.report(new Error(`wsevents: event "${msg.event}": invalid JSON payload: ${asError(err).message}`));
      return;
    }
    for (const handler of list.slice()) this.call(handler, value);
  }

  private answer(socket: WebSocketLike, msg: Message): void {
    const reply = (type: 'r' | 'x', data: unknown) => {
      // The reply may come after the connection it answers has gone.
      if (this.socket !== socket || this.currentState === 'closed') return;
      const item = this.outgoing(type, '', type === 'x' ? String(data) : data);
      item.id = msg.id;
      item.socket = socket;
      try {
        this.enqueue(item);
      } catch (err) {
        this.report(asError(err));
      }
    };
    const list = this.handlers.get(msg.event);
    if (!list || list.length === 0) {
      reply('x', `wsevents: no handler for event "${msg.event}"`);
      return;
    }
    let value: unknown;
    try {
      value = parsePayload(msg);
    } catch (err) {
      reply('x', `wsevents: event "${msg.event}": invalid JSON payload: ${asError(err).message}`);
      return;
    }
    const [first, ...rest] = list.slice() as [AnyHandler, ...AnyHandler[]];
    let result: unknown;
    try {
      result = first(value);
    } catch (err) {
      reply('x', errorText(err));
      for (const handler of rest) this.call(handler, value);
      return;
    }
    for (const handler of rest) this.call(handler, value);
    Promise.resolve(result).then(
      (v) => reply('r', v),
      (err: unknown) => reply('x', errorText(err)),
    );
  }

  private settleReply(msg: Message): void {
    const ask = this.pending.get(msg.id);
    if (!ask) return; // timed out already, or never ours: PROTOCOL.md says ignore
    this.pending.delete(msg.id);
    if (msg.type === 'x') {
      const text = typeof msg.payload === 'string' ? msg.payload : new TextDecoder().decode(msg.payload);
      this.settleAsk(ask, new RemoteError(text, ask.event));
      return;
    }
    let value: unknown;
    try {
      value = parsePayload(msg);
    } catch (err) {
      this.settleAsk(ask, new Error(`wsevents: reply to "${ask.event}": invalid JSON payload: ${asError(err).message}`));
      return;
    }
    this.settleAsk(ask, undefined, value);
  }

  private expire(ask: PendingAsk, timeout: number): void {
    const item = ask.queued;
    if (item) {
      // Never sent: take it out so the server does not get an ask nobody awaits.
      const i = this.outbox.indexOf(item);
      if (i >= 0) {
        this.outbox.splice(i, 1);
        this.outboxBytes -= item.size;
      }
    } else if (this.pending.get(ask.id) === ask) {
      this.pending.delete(ask.id);
    }
    this.settleAsk(ask, new TimeoutError(ask.event, timeout));
  }

  private settleAsk(ask: PendingAsk, err: Error | undefined, value?: unknown): void {
    clearTimeout(ask.timer);
    ask.queued = undefined;
    if (err) ask.reject(err);
    else ask.resolve(value);
  }

  // ---- listeners ----

  private notifyState(info: StateInfo): void {
    const state = this.currentState;
    for (const listener of this.stateListeners.slice()) this.call(listener, state, info);
  }

  /** Runs a user callback; what it throws or rejects with is reported. */
  private call<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): void {
    try {
      const r = fn(...args);
      if (r && typeof (r as PromiseLike<unknown>).then === 'function') {
        (r as PromiseLike<unknown>).then(undefined, (err: unknown) => this.report(asError(err)));
      }
    } catch (err) {
      this.report(asError(err));
    }
  }

  private report(err: Error): void {
    if (this.errorListeners.length === 0) {
      // Silently losing a handler's exception hides bugs; console is the
      // last place left to tell.
      console.error(err);
      return;
    }
    for (const listener of this.errorListeners.slice()) {
      try {
        listener(err);
      } catch (e) {
        // Not reported again, which could loop; surfaced as uncaught instead.
        setTimeout(() => {
          throw e;
        });
      }
    }
  }
}

function addListener<T>(list: T[], listener: T): () => void {
  list.push(listener);
  return () => {
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  };
}

function closeSocket(socket: WebSocketLike, code: number, reason: string): void {
  // A close reason is at most 123 bytes; cut by characters, which is safe for
  // the ASCII texts this client writes.
  const short = reason.length > 120 ? reason.slice(0, 120) : reason;
  try {
    socket.close(code, short);
  } catch {
    try {
      socket.close(1000, short);
    } catch {
      socket.close();
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** The text of an error reply: the message of an Error, else the value as text. */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : String(err);
}
