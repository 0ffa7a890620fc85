// The seed's client API (the Iris websocket package's `Ws` class), kept so
// pages written for it run unchanged. It is a thin layer over Client: same
// protocol, reconnect and offline buffer.

import { Client } from './client.js';
import type { ClientOptions } from './options.js';
import type { NativeData, NativeInput } from './types.js';

/**
 * The seed's client:
 *
 *   var socket = new Ws("ws://" + location.host + "/chat");
 *   socket.OnConnect(function () { socket.Emit("chat", "hi"); });
 *   socket.On("chat", function (msg) { ... });
 *
 * Unlike the seed it reconnects (see ClientOptions); OnConnect runs on every
 * (re)connect and OnDisconnect whenever an open connection ends. `client`
 * gives the full API (ask, binary, state) for code that outgrows this one.
 */
export class Ws {
  /** The client underneath. */
  readonly client: Client;

  constructor(url: string, options?: ClientOptions) {
    this.client = new Client(url, options);
  }

  /** Runs fn on every connect, and at once if already connected. */
  OnConnect(fn: () => void): void {
    this.client.onState((state) => {
      if (state === 'open') fn();
    });
    if (this.client.state === 'open') fn();
  }

  /** Runs fn whenever an open connection ends, whether or not it will reconnect. */
  OnDisconnect(fn: () => void): void {
    let open = this.client.state === 'open';
    this.client.onState((state) => {
      if (state === 'open') open = true;
      else if (open) {
        open = false;
        fn();
      }
    });
  }

  /** Handles an event; fn receives the payload with its type (string, number, object, Uint8Array...). */
  On(event: string, fn: (data: any) => unknown): void {
    this.client.on(event, fn);
  }

  /** Sends an event; buffered while disconnected. */
  Emit(event: string, data?: unknown): void {
    this.client.emit(event, data);
  }

  /** Sends a native message, delivered to the server's OnMessage. */
  EmitMessage(data: NativeInput): void {
    this.client.emitMessage(data);
  }

  /** Handles native messages from the server. */
  OnMessage(fn: (data: NativeData) => void): void {
    this.client.onMessage(fn);
  }

  /** Closes the connection for good. */
  Disconnect(): void {
    this.client.close();
  }
}
