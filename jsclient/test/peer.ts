// A wsevents server for the tests: a real `ws` WebSocketServer that speaks the
// protocol through the client's own codec. Tests script it message by
// message; `echo` mode makes it the reference peer of contract.test.ts.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { SUBPROTOCOL, decode, encode, toPayload, type Message, type MessageInit } from '../src/index.js';

/** A FIFO whose reads wait for the next write. */
export class Queue<T> {
  private items: T[] = [];
  private waiters: Array<(item: T) => void> = [];

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /** The next item; rejects after ms so a missing message fails the test instead of hanging it. */
  next(ms = 2000): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve, reject) => {
      const waiter = (it: T) => {
        clearTimeout(timer);
        resolve(it);
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`queue: nothing within ${ms} ms`));
      }, ms);
      this.waiters.push(waiter);
    });
  }

  get size(): number {
    return this.items.length;
  }
}

/** A received message and the frame type it came in. */
export type Received = Message & { binary: boolean };

export interface PeerOptions {
  port?: number;
  /** Answer in native mode: do not select the subprotocol. */
  native?: boolean;
  /** Echo every event, answer ask "echo" with its payload and "fail" with an error reply. */
  echo?: boolean;
}

export class Peer {
  readonly connections = new Queue<PeerConnection>();
  /** Every connection ever accepted, in order. */
  readonly all: PeerConnection[] = [];
  /** The Sec-WebSocket-Protocol values clients offered, one list per handshake. */
  readonly offered: string[][] = [];

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
  ) {}

  static async start(options: PeerOptions = {}): Promise<Peer> {
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: options.port ?? 0,
      handleProtocols: (protocols) => (!options.native && protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    await once(wss, 'listening');
    const peer = new Peer(wss, (wss.address() as AddressInfo).port);
    wss.on('headers', (_headers, req) => {
      const header = req.headers['sec-websocket-protocol'];
      peer.offered.push(header ? header.split(',').map((s) => s.trim()) : []);
    });
    wss.on('connection', (ws) => {
      const conn = new PeerConnection(ws, options.echo ?? false);
      peer.all.push(conn);
      peer.connections.push(conn);
    });
    return peer;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** Stops listening and drops every connection without a close frame, like a crashed server. */
  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

export class PeerConnection {
  readonly received = new Queue<Received>();
  /** Resolves with the close code and reason once the connection has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(
    readonly ws: WebSocket,
    echo: boolean,
  ) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // A text frame is handed to decode as a string, as a browser would.
      const msg = decode(isBinary ? new Uint8Array(data) : data.toString('utf8'));
      if (echo) this.echo(msg);
      this.received.push({ ...msg, binary: isBinary });
    });
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  send(msg: MessageInit, binary = false): void {
    this.ws.send(encode(msg, { binary }));
  }

  /** Sends an event with value mapped to its kind as the client maps it. */
  emit(event: string, value: unknown): void {
    this.send({ type: 'e', event, ...toPayload(value) });
  }

  ask(id: number, event: string, value: unknown): void {
    this.send({ type: 'a', id, event, ...toPayload(value) });
  }

  reply(id: number, value: unknown): void {
    this.send({ type: 'r', id, ...toPayload(value) });
  }

  replyError(id: number, text: string): void {
    this.send({ type: 'x', id, kind: 't', payload: text });
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  next(ms?: number): Promise<Received> {
    return this.received.next(ms);
  }

  // The reference behaviour of contract.test.ts; a Go test server for
  // WSEVENTS_URL implements the same.
  private echo(msg: Message): void {
    const same = { kind: msg.kind, payload: msg.payload } as MessageInit;
    switch (msg.type) {
      case 'e':
        this.send({ ...same, type: 'e', event: msg.event });
        break;
      case 'a':
        if (msg.event === 'echo') this.send({ ...same, type: 'r', id: msg.id });
        else if (msg.event === 'fail') this.replyError(msg.id, String(msg.payload));
        else this.replyError(msg.id, `wsevents: no handler for event "${msg.event}"`);
        break;
      case 'm':
        this.send({ ...same, type: 'm' });
        break;
    }
  }
}
