// Public entry of the package. Everything a user imports comes from here;
// the modules behind it are free to move.

export { Client, connect } from './client.js';
export { Ws } from './ws.js';
export { defaultOptions, type ClientOptions, type WebSocketConstructor, type WebSocketLike } from './options.js';
export type {
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
export {
  MAX_EVENT_NAME,
  MAX_ID,
  SUBPROTOCOL,
  checkEventName,
  decode,
  encode,
  parsePayload,
  toPayload,
  type EncodeOptions,
  type Kind,
  type Message,
  type MessageInit,
  type MessageType,
  type Payload,
} from './protocol.js';
export {
  BufferFullError,
  ClosedError,
  DisconnectedError,
  InvalidEventError,
  ProtocolError,
  RateLimitedError,
  RemoteError,
  TimeoutError,
  WseventsError,
} from './errors.js';
