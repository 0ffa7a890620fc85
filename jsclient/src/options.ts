// Client options and their defaults, kept in one place: the client reads only
// the resolved copy, never the caller's object.

/** The part of the WebSocket API the client uses; browsers, Node 22+ and `ws` all fit. */
export interface WebSocketLike {
  readonly protocol: string;
  readonly readyState: number;
  binaryType: string;
  // Handlers take `any` so that implementations with richer event types
  // (the DOM's, ws's) are assignable.
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: globalThis.WebSocket, or `WebSocket` from the `ws` package. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

export interface ClientOptions {
  /**
   * WebSocket implementation. Default: globalThis.WebSocket (browsers,
   * Deno, Node 22+). Node 20 has none by default: pass `WebSocket` from the
   * `ws` package.
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Reconnect after the connection drops or a dial fails. Default true.
   * Never after close(), nor after the server closes with 1008 (policy), nor
   * after 1002, 1003, 1007, 1009 or 1010, which say this client sent something
   * the server will refuse again. A server's 1000 or 1001 (shutdown, restart)
   * is reconnected.
   */
  reconnect?: boolean;
  /** Delay before the first reconnect attempt, in ms. Default 500. */
  initialDelay?: number;
  /** Upper bound of the delay between attempts, in ms. Default 10000. */
  maxDelay?: number;
  /** Each failed attempt multiplies the delay by this. Default 2. */
  factor?: number;
  /**
   * Share of each delay that is random, 0 to 1: a delay d becomes a value in
   * [d*(1-jitter), d], so clients dropped together by a server restart do not
   * all come back in the same millisecond. Default 0.5.
   */
  jitter?: number;
  /**
   * Reconnect attempts in a row without an open connection before the client
   * gives up and closes. Default Infinity.
   */
  maxAttempts?: number;
  /**
   * Default timeout of ask(), in ms, counted from the call (time spent in the
   * offline buffer included). 0 waits forever. Default 10000.
   */
  askTimeout?: number;
  /**
   * Messages kept while not connected (emits, native messages, asks), sent in
   * order once connected. Past this an emit throws BufferFullError. Default 1000.
   */
  maxBufferedMessages?: number;
  /** Bytes of payload kept while not connected. Default 1 MiB (1048576). */
  maxBufferedBytes?: number;
  /**
   * Send text and JSON in binary frames too, like the Go
   * Config.BinaryMessages. Default false.
   */
  binaryMessages?: boolean;
}

/** The defaults of every ClientOptions field but WebSocket. */
export const defaultOptions: Readonly<Required<Omit<ClientOptions, 'WebSocket'>>> = Object.freeze({
  reconnect: true,
  initialDelay: 500,
  maxDelay: 10_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
  askTimeout: 10_000,
  maxBufferedMessages: 1000,
  maxBufferedBytes: 1 << 20,
  binaryMessages: false,
});

export type ResolvedOptions = Required<ClientOptions>;

/** Returns a new object with every option set; the caller's value is left alone. */
export function resolveOptions(options: ClientOptions | undefined): ResolvedOptions {
  const o: Record<string, unknown> = { ...defaultOptions };
  // Only defined values override: { initialDelay: undefined } means "default".
  for (const [key, value] of Object.entries(options ?? {})) {
    if (value !== undefined) o[key] = value;
  }
  const ctor = (o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket) as
    | WebSocketConstructor
    | undefined;
  if (typeof ctor !== 'function') {
    throw new TypeError(
      'wsevents: no WebSocket implementation; pass options.WebSocket (in Node 20, WebSocket from the "ws" package)',
    );
  }
  o.WebSocket = ctor;
  const r = o as unknown as ResolvedOptions;
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new RangeError('wsevents: jitter must be between 0 and 1');
  if (!(r.factor >= 1)) throw new RangeError('wsevents: factor must be at least 1');
  return r;
}

/** The delay before reconnect attempt number attempt (0 for the first). */
export function backoffDelay(o: ResolvedOptions, attempt: number, random: number = Math.random()): number {
  const d = Math.min(o.maxDelay, o.initialDelay * Math.pow(o.factor, attempt));
  return Math.round(d * (1 - o.jitter * random));
}
