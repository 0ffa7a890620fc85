// The codec against every golden message of testdata/protocol/messages.json
// (shared with the Go tests), plus the encoder's own refusals.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  InvalidEventError,
  ProtocolError,
  checkEventName,
  decode,
  encode,
  parsePayload,
  toPayload,
  type MessageInit,
} from '../src/index.js';

interface Valid {
  name: string;
  frame: 'text' | 'binary';
  wire?: string;
  wire_base64?: string;
  payload?: string;
  payload_base64?: string;
  type: string;
  kind: string;
  event: string;
  id: number;
  encode: boolean;
  json?: unknown;
}

interface Invalid {
  name: string;
  wire?: string;
  wire_base64?: string;
}

// .test-build/test/ -> the repository root
const goldenURL = new URL('../../../testdata/protocol/messages.json', import.meta.url);
const golden = JSON.parse(readFileSync(goldenURL, 'utf8')) as {
  protocol: string;
  valid: Valid[];
  invalid: Invalid[];
};

const utf8 = new TextEncoder();
const bytesOf = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

/** The frame as a WebSocket would deliver it: a string for text, bytes for binary. */
function frameOf(c: Valid): string | Uint8Array {
  if (c.frame === 'text') return c.wire!;
  return c.wire_base64 !== undefined ? bytesOf(c.wire_base64) : utf8.encode(c.wire!);
}

function wireBytes(c: { wire?: string; wire_base64?: string }): Uint8Array {
  return c.wire_base64 !== undefined ? bytesOf(c.wire_base64) : utf8.encode(c.wire!);
}

function expectedPayload(c: Valid): string | Uint8Array {
  if (c.kind === 'b') return c.payload_base64 !== undefined ? bytesOf(c.payload_base64) : utf8.encode(c.payload!);
  return c.payload_base64 !== undefined ? Buffer.from(c.payload_base64, 'base64').toString('utf8') : c.payload!;
}

test('golden file is protocol wsevents.v1 and not empty', () => {
  assert.equal(golden.protocol, 'wsevents.v1');
  assert.ok(golden.valid.length > 0 && golden.invalid.length > 0);
});

describe('decode valid golden messages', () => {
  for (const c of golden.valid) {
    test(c.name, () => {
      const want = expectedPayload(c);
      // As delivered, then as bytes and as an ArrayBuffer: every kind is
      // accepted in either frame type.
      const bytes = wireBytes(c);
      const inputs: Array<string | Uint8Array | ArrayBuffer> = [frameOf(c), bytes, bytes.slice().buffer];
      for (const input of inputs) {
        const m = decode(input);
        assert.equal(m.type, c.type);
        assert.equal(m.kind, c.kind);
        assert.equal(m.id, c.id);
        assert.equal(m.event, c.event);
        assert.deepEqual(m.payload, want);
        if (c.kind === 'b') assert.ok(m.payload instanceof Uint8Array);
        if ('json' in c) assert.deepEqual(parsePayload(m), c.json);
      }
    });
  }
});

describe('encode valid golden messages', () => {
  for (const c of golden.valid.filter((c) => c.encode)) {
    test(c.name, () => {
      const msg = {
        type: c.type,
        kind: c.kind,
        id: c.id,
        event: c.event,
        payload: expectedPayload(c),
      } as MessageInit;
      const out = encode(msg, { binary: c.frame === 'binary' });
      if (c.frame === 'text') {
        assert.equal(typeof out, 'string');
        assert.equal(out, c.wire);
      } else {
        assert.ok(out instanceof Uint8Array);
        assert.deepEqual(out, wireBytes(c));
      }
    });
  }
});

describe('decode rejects invalid golden messages', () => {
  for (const c of golden.invalid) {
    test(c.name, () => {
      const inputs: Array<string | Uint8Array> = [wireBytes(c)];
      if (c.wire !== undefined) inputs.push(c.wire);
      for (const input of inputs) {
        assert.throws(() => decode(input), ProtocolError);
      }
    });
  }
});

describe('decode details', () => {
  test('error names the fault', () => {
    assert.throws(() => decode('et:chat'), /protocol error: no LF/);
    assert.throws(() => decode('aj9007199254740992:sum\n1'), /id out of range/);
  });

  test('text payload in a binary frame must be UTF-8', () => {
    const frame = new Uint8Array([...utf8.encode('et:chat\n'), 0xff, 0xfe]);
    assert.throws(() => decode(frame), /not valid UTF-8/);
  });

  test('event name in a binary frame must be UTF-8', () => {
    const frame = new Uint8Array([...utf8.encode('eb:'), 0xc3, ...utf8.encode('\n')]);
    assert.throws(() => decode(frame), /event name is not valid UTF-8/);
  });

  test('a leading BOM is payload', () => {
    const m = decode(new Uint8Array([...utf8.encode('et:chat\n'), 0xef, 0xbb, 0xbf, 0x61]));
    assert.equal(m.payload, '\ufeffa');
  });

  test('binary payload is a copy of the payload alone', () => {
    const frame = utf8.encode('eb:blob\nxyz');
    const m = decode(frame);
    assert.equal((m.payload as Uint8Array).buffer.byteLength, 3);
  });

  test('decodes a Uint8Array view at an offset', () => {
    const buf = utf8.encode('garbageet:chat\nhi');
    const m = decode(buf.subarray(7));
    assert.equal(m.event, 'chat');
    assert.equal(m.payload, 'hi');
  });

  test('binary kind in a text frame', () => {
    const m = decode('eb:blob\nab');
    assert.deepEqual(m.payload, utf8.encode('ab'));
  });

  test('control message with id', () => {
    const m = decode('ct5:resume\n');
    assert.equal(m.id, 5);
    assert.equal(m.event, 'resume');
  });

  test('name counted in bytes, not characters', () => {
    // 128 two-byte characters: 256 bytes, allowed; one more is 258 bytes.
    assert.equal(decode(`et:${'ñ'.repeat(128)}\nx`).event, 'ñ'.repeat(128));
    assert.throws(() => decode(`et:${'ñ'.repeat(129)}\nx`), /longer than 256/);
  });
});

describe('encode refuses what the grammar forbids', () => {
  const cases: Array<[string, MessageInit, RegExp]> = [
    ['event without name', { type: 'e', kind: 't', payload: 'x' }, /invalid event name "": empty/],
    ['control without name', { type: 'c', kind: 't', payload: '' }, /invalid event name/],
    ['event with id', { type: 'e', kind: 't', id: 3, event: 'a', payload: 'x' }, /no id/],
    ['ask without id', { type: 'a', kind: 'j', event: 'a', payload: '1' }, /needs an id/],
    ['reply with name', { type: 'r', kind: 'j', id: 1, event: 'a', payload: '1' }, /no name/],
    ['id zero is no id', { type: 'r', kind: 'j', id: 0, payload: '1' }, /needs an id/],
    ['id above 2^53-1', { type: 'a', kind: 'j', id: 2 ** 53, event: 'a', payload: '1' }, /id out of range/],
    ['fractional id', { type: 'a', kind: 'j', id: 1.5, event: 'a', payload: '1' }, /id out of range/],
    ['negative id', { type: 'a', kind: 'j', id: -1, event: 'a', payload: '1' }, /id out of range/],
    ['native json', { type: 'm', kind: 'j', payload: '1' }, /native/],
    ['empty json', { type: 'e', kind: 'j', event: 'a', payload: '' }, /empty JSON/],
    ['unknown type', { type: 'q' as 'e', kind: 't', event: 'a', payload: '' }, /unknown type/],
    ['unknown kind', { type: 'e', kind: 'z' as 't', event: 'a', payload: '' }, /unknown kind/],
    ['binary kind with a string', { type: 'e', kind: 'b', event: 'a', payload: 'x' as never }, /Uint8Array/],
  ];
  for (const [name, msg, re] of cases) {
    test(name, () => assert.throws(() => encode(msg), re));
  }

  test('invalid event names', () => {
    for (const name of ['', 'a;b', 'a\nb', 'a\x7fb', 'n'.repeat(257), 'ñ'.repeat(129), 'a\ud800']) {
      assert.throws(() => checkEventName(name), InvalidEventError, JSON.stringify(name));
      assert.throws(() => encode({ type: 'e', kind: 't', event: name, payload: '' }), InvalidEventError);
    }
    checkEventName('n'.repeat(256));
    checkEventName('user:join 😀');
  });

  test('text kinds give bytes with binary option', () => {
    const out = encode({ type: 'e', kind: 'j', event: 'n', payload: '1' }, { binary: true });
    assert.deepEqual(out, utf8.encode('ej:n\n1'));
  });
});

describe('toPayload maps values to kinds', () => {
  test('string is text, even when it looks like a number', () => {
    assert.deepEqual(toPayload('42'), { kind: 't', payload: '42' });
  });
  test('numbers, booleans, null, objects, arrays are JSON', () => {
    assert.deepEqual(toPayload(42), { kind: 'j', payload: '42' });
    assert.deepEqual(toPayload(false), { kind: 'j', payload: 'false' });
    assert.deepEqual(toPayload(null), { kind: 'j', payload: 'null' });
    assert.deepEqual(toPayload({ a: [1] }), { kind: 'j', payload: '{"a":[1]}' });
    assert.deepEqual(toPayload([1, 'a']), { kind: 'j', payload: '[1,"a"]' });
  });
  test('undefined travels as null', () => {
    assert.deepEqual(toPayload(undefined), { kind: 'j', payload: 'null' });
  });
  test('bytes are binary', () => {
    const u8 = new Uint8Array([1, 2, 3]);
    assert.deepEqual(toPayload(u8), { kind: 'b', payload: u8 });
    assert.deepEqual(toPayload(u8.buffer), { kind: 'b', payload: u8 });
    assert.deepEqual(toPayload(new Uint16Array([0x0201])), { kind: 'b', payload: new Uint8Array([1, 2]) });
    assert.deepEqual(toPayload(new Uint8Array([9, 1, 2]).subarray(1)), { kind: 'b', payload: new Uint8Array([1, 2]) });
  });
});
