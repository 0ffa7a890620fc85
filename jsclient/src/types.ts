// Types of the typed event maps. A map names each event and what it carries:
//
//   interface ChatEvents {
//     chat: string;                        // an event with a string payload
//     move: { x: number; y: number };      // JSON
//     ping: void;                          // no payload: emit('ping')
//     sum: (nums: number[]) => number;     // an ask: payload and reply
//   }
//
// A function type marks an event that is asked: its parameter is the payload
// and its return type the reply. Payloads themselves are never functions, so
// the two cannot be confused.

/** Names events and the payload each carries (see the module comment). */
export type EventMap = { [event: string]: any };

/** The map used when none is given: any event, any payload. */
export type AnyEvents = Record<string, any>;

type IsAny<T> = 0 extends 1 & T ? true : false;

/** The payload type of a map entry. */
export type PayloadOf<T> = IsAny<T> extends true ? any : T extends (data: infer D) => any ? D : T;

/**
 * emit's payload parameter: optional for events declared void (and in the
 * untyped map), required otherwise.
 */
export type PayloadArgs<T> = [PayloadOf<T>] extends [void] ? [data?: PayloadOf<T>] : [data: PayloadOf<T>];

/** The reply type of a map entry; unknown for events that are not asks. */
export type ReplyOf<T> = IsAny<T> extends true ? unknown : T extends (...args: any[]) => infer R ? Awaited<R> : unknown;

/**
 * A handler for a map entry. It receives the payload; what it returns (or the
 * promise resolves to) answers an ask, and what it throws becomes the error
 * reply. For plain events the return value is ignored.
 */
export type HandlerOf<T> =
  IsAny<T> extends true
    ? (data: any) => unknown
    : T extends (data: infer D) => infer R
      ? (data: D) => Awaited<R> | Promise<Awaited<R>>
      : (data: T) => unknown;

/** The data a native message carries: text, or bytes from a binary frame. */
export type NativeData = string | Uint8Array;

/** What emitMessage accepts. */
export type NativeInput = string | ArrayBuffer | ArrayBufferView | Blob;

/**
 * connecting: the first dial is under way.
 * open: connected, messages flow.
 * reconnecting: the connection dropped or a dial failed; waiting or redialing.
 * closed: final, after close() or when reconnecting stopped.
 */
export type State = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Details passed with each state change. */
export interface StateInfo {
  /** Close code of the connection that ended (reconnecting, closed). */
  code?: number;
  /** Close reason of the connection that ended. */
  reason?: string;
  /** reconnecting: the attempt about to be made, from 1. */
  attempt?: number;
  /** reconnecting: ms until that attempt. */
  delay?: number;
  /** closed: why the client stopped, when it was not close(). */
  error?: Error;
}

export interface AskOptions {
  /** ms to wait for the reply; 0 waits forever. Default: the client's askTimeout option. */
  timeout?: number;
}

/** Counters for monitoring. */
export interface ClientStats {
  /** Messages waiting in the offline buffer. */
  buffered: number;
  /** Payload bytes waiting in the offline buffer. */
  bufferedBytes: number;
  /** Messages refused because the offline buffer was full. */
  dropped: number;
}
