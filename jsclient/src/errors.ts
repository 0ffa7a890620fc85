// Error classes of the client. Each has its own class so callers can branch
// with instanceof instead of matching message text; messages carry the same
// "wsevents: " prefix as the Go sentinels, except RemoteError, whose message is
// the peer's text unchanged.

/** Base class of every error the client creates. */
export class WseventsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A message broke PROTOCOL.md section 2: received from the peer (the client
 * then closes the connection and does not reconnect) or asked of encode().
 */
export class ProtocolError extends WseventsError {}

/** An event name PROTOCOL.md forbids: empty, over 256 bytes, or holding a control byte or ';'. */
export class InvalidEventError extends WseventsError {}

/** The peer answered an ask with an `x` message; message is the peer's error text. */
export class RemoteError extends WseventsError {
  constructor(
    message: string,
    /** The asked event. */
    readonly event: string,
  ) {
    super(message);
  }
}

/**
 * The server dropped events of this client under its rate limit (control
 * message "ratelimited", at most one a second). Asks over the limit are
 * rejected with a RemoteError instead.
 */
export class RateLimitedError extends WseventsError {
  constructor(
    /** The last event dropped. */
    readonly event: string,
    /** Events dropped since the server's previous notice. */
    readonly dropped: number,
  ) {
    super(`wsevents: the server dropped ${dropped} events over its rate limit (the last: "${event}")`);
  }
}

/** An ask got no reply in time. */
export class TimeoutError extends WseventsError {
  constructor(
    readonly event: string,
    /** The timeout that ran out, in milliseconds. */
    readonly timeout: number,
  ) {
    super(`wsevents: ask "${event}" timed out after ${timeout} ms`);
  }
}

/**
 * The offline buffer is full (options maxBufferedMessages / maxBufferedBytes):
 * the message was not queued. Client.stats.dropped counts these.
 */
export class BufferFullError extends WseventsError {
  constructor() {
    super('wsevents: offline buffer full');
  }
}

/** The client is closed for good: close() was called or reconnecting gave up. */
export class ClosedError extends WseventsError {
  constructor(message = 'wsevents: client closed') {
    super(message);
  }
}

/**
 * The connection an ask was sent on ended before the reply came. Ask ids are
 * per connection, so the reply cannot arrive on the next one.
 */
export class DisconnectedError extends WseventsError {
  constructor(readonly event: string) {
    super(`wsevents: connection lost before the reply to "${event}"`);
  }
}
