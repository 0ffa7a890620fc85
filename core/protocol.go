package wsevents

import (
	"bytes"
	"strconv"
)

// Subprotocol is the WebSocket subprotocol that puts a connection in event
// mode (PROTOCOL.md section 1).
const Subprotocol = "wsevents.v1"

// Message types of PROTOCOL.md section 2.
const (
	typeEvent  byte = 'e'
	typeAsk    byte = 'a'
	typeReply  byte = 'r'
	typeError  byte = 'x'
	typeNative byte = 'm'
	typeCtrl   byte = 'c'
)

// Kind is the kind of a message's payload (PROTOCOL.md section 2, Kinds).
type Kind byte

const (
	KindText   Kind = 't' // UTF-8 text
	KindJSON   Kind = 'j' // one JSON value
	KindBinary Kind = 'b' // raw bytes
)

// String is the kind's name: text, json or binary.
func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindJSON:
		return "json"
	case KindBinary:
		return "binary"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

const (
	maxEventName = 256
	maxExtKey    = 16
	maxID        = 1<<53 - 1
	maxIDDigits  = 16
)

// header is a decoded message header. name aliases the decoded buffer.
type header struct {
	typ  byte
	kind Kind
	id   uint64
	name []byte
}

// decodeMessage splits one event-mode message into header and payload. The
// payload aliases p. Errors wrap ErrProtocol.
func decodeMessage(p []byte) (h header, payload []byte, err error) {
	lf := bytes.IndexByte(p, '\n')
	if lf < 0 {
		return h, nil, protocolErrorf("no LF after the header")
	}
	head, payload := p[:lf], p[lf+1:]
	if len(head) < 3 {
		return h, nil, protocolErrorf("header too short")
	}
	h.typ, h.kind = head[0], Kind(head[1])
	switch h.kind {
	case KindText, KindJSON, KindBinary:
	default:
		return h, nil, protocolErrorf("unknown kind %q", head[1])
	}
	i := 2
	for i < len(head) && head[i] >= '0' && head[i] <= '9' {
		i++
	}
	digits := head[2:i]
	if i >= len(head) || head[i] != ':' {
		return h, nil, protocolErrorf("malformed id or missing ':'")
	}
	if len(digits) > 0 {
		if digits[0] == '0' || len(digits) > maxIDDigits {
			return h, nil, protocolErrorf("id out of range")
		}
		for _, d := range digits {
			h.id = h.id*10 + uint64(d-'0')
		}
		if h.id > maxID {
			return h, nil, protocolErrorf("id out of range")
		}
	}
	rest := head[i+1:]
	name := rest
	if semi := bytes.IndexByte(rest, ';'); semi >= 0 {
		name = rest[:semi]
		if err := checkExtensions(rest[semi+1:]); err != nil {
			return h, nil, err
		}
	}
	if len(name) > maxEventName {
		return h, nil, protocolErrorf("event name longer than %d bytes", maxEventName)
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return h, nil, protocolErrorf("control byte in event name")
		}
	}
	h.name = name

	hasID, hasName := len(digits) > 0, len(name) > 0
	switch h.typ {
	case typeEvent:
		if hasID || !hasName {
			return h, nil, protocolErrorf("event needs a name and no id")
		}
	case typeAsk:
		if !hasID || !hasName {
			return h, nil, protocolErrorf("ask needs an id and a name")
		}
	case typeReply, typeError:
		if !hasID || hasName {
			return h, nil, protocolErrorf("reply needs an id and no name")
		}
	case typeNative:
		if hasID || hasName || h.kind == KindJSON {
			return h, nil, protocolErrorf("native message takes no id, no name, kind t or b")
		}
	case typeCtrl:
		if !hasName {
			return h, nil, protocolErrorf("control message needs a name")
		}
	default:
		return h, nil, protocolErrorf("unknown type %q", head[0])
	}
	if h.kind == KindJSON && len(payload) == 0 {
		return h, nil, protocolErrorf("empty JSON payload")
	}
	return h, payload, nil
}

// checkExtensions validates ";"-separated key=value fields; version 1 knows
// none, so they are only checked and otherwise ignored.
func checkExtensions(p []byte) error {
	for {
		field := p
		next := bytes.IndexByte(p, ';')
		if next >= 0 {
			field, p = p[:next], p[next+1:]
		} else {
			p = nil
		}
		eq := bytes.IndexByte(field, '=')
		if eq < 1 || eq > maxExtKey {
			return protocolErrorf("malformed extension")
		}
		for _, c := range field[:eq] {
			if c < 'a' || c > 'z' {
				return protocolErrorf("malformed extension key")
			}
		}
		for _, c := range field[eq+1:] {
			if c < 0x20 || c == 0x7f {
				return protocolErrorf("control byte in extension")
			}
		}
		if next < 0 {
			return nil
		}
	}
}

// validEventName reports whether name may be sent as an event name.
func validEventName(name string) bool {
	if len(name) == 0 || len(name) > maxEventName {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f || c == ';' {
			return false
		}
	}
	return true
}

// appendHeader appends a message header (through the LF) to dst.
func appendHeader(dst []byte, typ byte, kind Kind, id uint64, name string) []byte {
	dst = append(dst, typ, byte(kind))
	if id != 0 {
		dst = strconv.AppendUint(dst, id, 10)
	}
	dst = append(dst, ':')
	dst = append(dst, name...)
	return append(dst, '\n')
}
