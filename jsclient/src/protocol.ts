// Encoding and decoding of wsevents messages. PROTOCOL.md at the repository
// root is the specification; the Go core implements the same grammar and both
// are tested against testdata/protocol/messages.json.

import { InvalidEventError, ProtocolError } from './errors.js';

/** The WebSocket subprotocol that puts a connection in event mode. */
export const SUBPROTOCOL = 'wsevents.v1';

/** Largest ask id: 2^53-1, so a JavaScript number holds every id exactly. */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** Longest event name, in UTF-8 bytes. */
export const MAX_EVENT_NAME = 256;

const MAX_ID_DIGITS = 16;
const MAX_EXT_KEY = 16;

/**
 * e event, a ask, r reply, x error reply, m native message, c control
 * (reserved for later versions).
 */
export type MessageType = 'e' | 'a' | 'r' | 'x' | 'm' | 'c';

/** t UTF-8 text, j one JSON value, b raw bytes. */
export type Kind = 't' | 'j' | 'b';

/**
 * One wsevents message. The payload is kept as it travelled: text for kinds
 * t and j (the JSON source, see parsePayload), bytes for kind b.
 */
export type Message = {
  type: MessageType;
  /** Ask id; 0 when the message has none. */
  id: number;
  /** Event name (the control name for type c); '' when the message has none. */
  event: string;
} & ({ kind: 't' | 'j'; payload: string } | { kind: 'b'; payload: Uint8Array });

/** What encode() needs; id and event may be left out where the type has none. */
export type MessageInit = {
  type: MessageType;
  id?: number;
  event?: string;
} & ({ kind: 't' | 'j'; payload: string } | { kind: 'b'; payload: Uint8Array });

export interface EncodeOptions {
  /**
   * Produce bytes (a binary frame) for kinds t and j too, like the Go
   * Config.BinaryMessages. Default false: t and j give a string (a text frame).
   */
  binary?: boolean;
}

const LF = 0x0a;
const SEMICOLON = 0x3b;
const textEncoder = new TextEncoder();
// fatal: bytes in a binary frame are not checked by the WebSocket layer, and
// replacing bad sequences would hand handlers text the sender never wrote.
// ignoreBOM: a leading U+FEFF is payload, not a marker to strip.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function protocolError(fault: string): ProtocolError {
  return new ProtocolError(`wsevents: protocol error: ${fault}`);
}

/**
 * Decodes one WebSocket message: a string for a text frame, bytes for a binary
 * frame. Every kind is accepted in either frame type. Extensions (";key=value"
 * after the name) are checked and ignored, as version 1 defines none. Throws
 * ProtocolError naming the fault.
 */
export function decode(frame: string | ArrayBuffer | Uint8Array): Message {
  let head: Uint8Array;
  let text: string | undefined;
  let bytes: Uint8Array | undefined;
  let start: number;
  if (typeof frame === 'string') {
    const lf = frame.indexOf('\n');
    if (lf < 0) throw protocolError('no LF after the header');
    // Only the header is turned into bytes: the grammar counts name bytes,
    // while a text payload can stay the string it already is.
    head = textEncoder.encode(frame.slice(0, lf));
    text = frame;
    start = lf + 1;
  } else {
    bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
    const lf = bytes.indexOf(LF);
    if (lf < 0) throw protocolError('no LF after the header');
    head = bytes.subarray(0, lf);
    start = lf + 1;
  }

  const h = decodeHeader(head);
  let payload: string | Uint8Array;
  if (h.kind === 'b') {
    // A copy, so the payload's .buffer is the payload alone and does not pin
    // the whole frame.
    payload = bytes ? bytes.slice(start) : textEncoder.encode(text!.slice(start));
  } else if (text !== undefined) {
    payload = text.slice(start);
  } else {
    try {
      payload = textDecoder.decode(bytes!.subarray(start));
    } catch {
      throw protocolError('text payload is not valid UTF-8');
    }
  }
  if (h.kind === 'j' && payload.length === 0) throw protocolError('empty JSON payload');
  return { type: h.type, kind: h.kind, id: h.id, event: h.event, payload } as Message;
}

interface Header {
  type: MessageType;
  kind: Kind;
  id: number;
  event: string;
}

function decodeHeader(head: Uint8Array): Header {
  if (head.length < 3) throw protocolError('header too short');
  const type = String.fromCharCode(head[0]!);
  const kind = String.fromCharCode(head[1]!);
  if (kind !== 't' && kind !== 'j' && kind !== 'b') {
    throw protocolError(`unknown kind ${JSON.stringify(kind)}`);
  }

  let i = 2;
  let id = 0;
  while (i < head.length && head[i]! >= 0x30 && head[i]! <= 0x39) i++;
  const digits = i - 2;
  if (i >= head.length || head[i] !== 0x3a /* ':' */) {
    throw protocolError("malformed id or missing ':'");
  }
  if (digits > 0) {
    if (head[2] === 0x30 || digits > MAX_ID_DIGITS) throw protocolError('id out of range');
    for (let j = 2; j < i; j++) id = id * 10 + (head[j]! - 0x30);
    // Rounding above 2^53 is monotonic and 2^53 itself is exact, so a value
    // past MAX_ID never rounds back into range.
    if (id > MAX_ID) throw protocolError('id out of range');
  }

  const nameStart = i + 1;
  let nameEnd = head.indexOf(SEMICOLON, nameStart);
  if (nameEnd < 0) nameEnd = head.length;
  else checkExtensions(head, nameEnd + 1);
  if (nameEnd - nameStart > MAX_EVENT_NAME) {
    throw protocolError(`event name longer than ${MAX_EVENT_NAME} bytes`);
  }
  for (let j = nameStart; j < nameEnd; j++) {
    if (isControl(head[j]!)) throw protocolError('control byte in event name');
  }
  let event = '';
  if (nameEnd > nameStart) {
    try {
      event = textDecoder.decode(head.subarray(nameStart, nameEnd));
    } catch {
      throw protocolError('event name is not valid UTF-8');
    }
  }

  const hasId = digits > 0;
  const hasName = event !== '';
  switch (type) {
    case 'e':
      if (hasId || !hasName) throw protocolError('event needs a name and no id');
      break;
    case 'a':
      if (!hasId || !hasName) throw protocolError('ask needs an id and a name');
      break;
    case 'r':
    case 'x':
      if (!hasId || hasName) throw protocolError('reply needs an id and no name');
      break;
    case 'm':
      if (hasId || hasName || kind === 'j') {
        throw protocolError('native message takes no id, no name, kind t or b');
      }
      break;
    case 'c':
      if (!hasName) throw protocolError('control message needs a name');
      break;
    default:
      throw protocolError(`unknown type ${JSON.stringify(type)}`);
  }
  return { type, kind, id, event };
}

// checkExtensions validates the ";key=value" fields from head[from] on.
function checkExtensions(head: Uint8Array, from: number): void {
  let field = from;
  for (;;) {
    let end = head.indexOf(SEMICOLON, field);
    if (end < 0) end = head.length;
    const eq = head.indexOf(0x3d /* '=' */, field);
    const keyLen = eq < 0 || eq > end ? -1 : eq - field;
    if (keyLen < 1 || keyLen > MAX_EXT_KEY) throw protocolError('malformed extension');
    for (let j = field; j < eq; j++) {
      if (head[j]! < 0x61 || head[j]! > 0x7a) throw protocolError('malformed extension key');
    }
    for (let j = eq + 1; j < end; j++) {
      if (isControl(head[j]!)) throw protocolError('control byte in extension');
    }
    if (end === head.length) return;
    field = end + 1;
  }
}

function isControl(b: number): boolean {
  return b < 0x20 || b === 0x7f;
}

/**
 * Throws InvalidEventError unless name may be sent as an event name: 1 to 256
 * UTF-8 bytes, none of them a control byte or ';'.
 */
export function checkEventName(name: string): void {
  const fault = eventNameFault(name);
  if (fault) throw new InvalidEventError(`wsevents: invalid event name ${JSON.stringify(name)}: ${fault}`);
}

function eventNameFault(name: string): string {
  if (typeof name !== 'string' || name === '') return 'empty';
  let bytes = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x80) {
      if (isControl(c)) return 'control character';
      if (c === SEMICOLON) return "';' starts an extension";
      bytes += 1;
    } else if (c < 0x800) {
      bytes += 2;
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const next = name.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return 'lone surrogate';
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return 'lone surrogate';
    } else {
      bytes += 3;
    }
  }
  return bytes > MAX_EVENT_NAME ? `longer than ${MAX_EVENT_NAME} bytes` : '';
}

/**
 * Encodes a message. Kinds t and j give a string, to send as a text frame;
 * kind b, or any kind with options.binary, gives bytes for a binary frame.
 * Throws ProtocolError (InvalidEventError for a bad name) for a message the
 * grammar does not allow, so nothing malformed reaches the wire.
 */
export function encode(msg: MessageInit, options?: EncodeOptions): string | Uint8Array {
  const id = msg.id ?? 0;
  const event = msg.event ?? '';
  checkEncodable(msg.type, msg.kind, id, event, msg.payload);
  const header = msg.type + msg.kind + (id > 0 ? String(id) : '') + ':' + event + '\n';
  if (msg.kind !== 'b' && !options?.binary) return header + msg.payload;

  const head = textEncoder.encode(header);
  const body = typeof msg.payload === 'string' ? textEncoder.encode(msg.payload) : msg.payload;
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}

function checkEncodable(
  type: MessageType,
  kind: Kind,
  id: number,
  event: string,
  payload: string | Uint8Array,
): void {
  if (kind !== 't' && kind !== 'j' && kind !== 'b') throw protocolError(`unknown kind ${JSON.stringify(kind)}`);
  if (kind === 'b' ? !(payload instanceof Uint8Array) : typeof payload !== 'string') {
    throw protocolError(`kind ${kind} needs a ${kind === 'b' ? 'Uint8Array' : 'string'} payload`);
  }
  if (id !== 0 && !(Number.isInteger(id) && id > 0 && id <= MAX_ID)) throw protocolError('id out of range');
  const hasId = id !== 0;
  const hasName = event !== '';
  switch (type) {
    case 'e':
      checkEventName(event);
      if (hasId) throw protocolError('event needs a name and no id');
      break;
    case 'a':
      checkEventName(event);
      if (!hasId) throw protocolError('ask needs an id and a name');
      break;
    case 'c':
      checkEventName(event);
      break;
    case 'r':
    case 'x':
      if (!hasId || hasName) throw protocolError('reply needs an id and no name');
      break;
    case 'm':
      if (hasId || hasName || kind === 'j') {
        throw protocolError('native message takes no id, no name, kind t or b');
      }
      break;
    default:
      throw protocolError(`unknown type ${JSON.stringify(type)}`);
  }
  if (kind === 'j' && payload.length === 0) throw protocolError('empty JSON payload');
}

/**
 * The value a handler receives: the text of kind t, the parsed JSON of kind j,
 * the bytes of kind b. Invalid JSON throws here, not in decode(): PROTOCOL.md
 * reports it when a handler decodes the payload, not as a protocol error.
 */
export function parsePayload(msg: Message): unknown {
  return msg.kind === 'j' ? JSON.parse(msg.payload) : msg.payload;
}

/** A payload and the kind it travels as. */
export type Payload = { kind: 't' | 'j'; payload: string } | { kind: 'b'; payload: Uint8Array };

/**
 * Maps a value to its kind (PROTOCOL.md, Kinds): a string is text, an
 * ArrayBuffer or a typed array / DataView is binary (a view, not a copy), and
 * anything else is JSON, undefined being sent as null. Blob is not handled
 * here because reading it is asynchronous; the client does that.
 */
export function toPayload(value: unknown): Payload {
  if (typeof value === 'string') return { kind: 't', payload: value };
  // Tagged rather than instanceof, which misses buffers from another realm
  // (an iframe, a vm context).
  if (Object.prototype.toString.call(value) === '[object ArrayBuffer]') {
    return { kind: 'b', payload: new Uint8Array(value as ArrayBuffer) };
  }
  if (ArrayBuffer.isView(value)) {
    const bytes =
      value instanceof Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { kind: 'b', payload: bytes };
  }
  // JSON.stringify yields undefined for undefined, functions and symbols;
  // they all travel as null so that a j payload is never empty.
  const json = JSON.stringify(value);
  return { kind: 'j', payload: json === undefined ? 'null' : json };
}

/** The number of bytes a string takes in UTF-8, without encoding it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}
