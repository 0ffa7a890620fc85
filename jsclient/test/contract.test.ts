// The client against a server that follows the echo contract below. By
// default that server is the in-process reference peer (test/peer.ts, echo
// mode); with WSEVENTS_URL set, it is whatever server the URL names, e.g. a Go
// test server built on wsevents core, so both sides are checked against each
// other with the same assertions.
//
// Echo contract, on a connection in event mode:
//   - an event is sent back to its sender, same name, same kind and payload;
//   - an ask "echo" is answered with a reply of the same kind and payload;
//   - an ask "fail" with a text payload is answered with an error reply
//     carrying that text;
//   - an ask of any other event gets the protocol's no-handler error reply;
//   - a native message (type m) is sent back as a native message.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { RemoteError, connect, type Client } from '../src/index.js';
import { Peer, Queue } from './peer.js';

interface EchoEvents {
  echo: unknown;
  fail: (why: string) => never;
}

let url = process.env.WSEVENTS_URL ?? '';
let local: Peer | undefined;
let client: Client<EchoEvents>;

describe(`echo contract against ${process.env.WSEVENTS_URL ? 'WSEVENTS_URL' : 'the in-process peer'}`, () => {
  before(async () => {
    if (!url) {
      local = await Peer.start({ echo: true });
      url = local.url;
    }
    client = connect<EchoEvents>(url, { WebSocket, askTimeout: 5000 });
    await new Promise<void>((resolve, reject) => {
      const stop = client.onState((state, info) => {
        if (state === 'connecting') return;
        stop();
        if (state === 'open') resolve();
        else reject(new Error(`cannot reach ${url} (close code ${info.code})`));
      });
    });
  });

  after(async () => {
    client?.close();
    await local?.stop();
  });

  const values: Array<[string, unknown]> = [
    ['text', 'hello'],
    ['text that looks like a number', '42'],
    ['unicode text', 'holá 世界 😀'],
    ['empty text', ''],
    ['number', 42],
    ['float', -3.5],
    ['boolean', true],
    ['null', null],
    ['object', { x: 1, y: [2, { z: 'w' }] }],
    ['array', [1, 'a', null]],
    ['bytes', new Uint8Array([0, 1, 10, 254, 255])],
    ['empty bytes', new Uint8Array(0)],
  ];

  for (const [name, value] of values) {
    test(`event round trip: ${name}`, async () => {
      const got = new Queue<unknown>();
      const handler = (d: unknown) => got.push(d);
      client.on('echo', handler);
      try {
        client.emit('echo', value);
        assert.deepEqual(await got.next(), value);
      } finally {
        client.off('echo', handler);
      }
    });

    test(`ask round trip: ${name}`, async () => {
      assert.deepEqual(await client.ask('echo', value), value);
    });
  }

  test('a Blob arrives as bytes', async () => {
    assert.deepEqual(await client.ask('echo', new Blob(['blob'])), new TextEncoder().encode('blob'));
  });

  test('error reply', async () => {
    await assert.rejects(client.ask('fail', 'no such user'), (err: unknown) => {
      return err instanceof RemoteError && err.message === 'no such user';
    });
  });

  test('ask without a handler', async () => {
    await assert.rejects(
      (client as unknown as Client).ask('nobody-handles-this', 1),
      (err: unknown) => err instanceof RemoteError && err.message === 'wsevents: no handler for event "nobody-handles-this"',
    );
  });

  test('native messages round trip', async () => {
    const got = new Queue<string | Uint8Array>();
    const stop = client.onMessage((d) => got.push(d));
    try {
      client.emitMessage('native');
      client.emitMessage(new Uint8Array([1, 2]));
      assert.equal(await got.next(), 'native');
      assert.deepEqual(await got.next(), new Uint8Array([1, 2]));
    } finally {
      stop();
    }
  });
});
