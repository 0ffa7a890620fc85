package wseventstest

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	wsevents "github.com/wsevents/wsevents/core"
)

// Message is one wsevents message as the wire carries it (PROTOCOL.md
// section 2). The kit encodes and decodes it itself, independently of
// core, so that a core encoder bug cannot hide behind a matching decoder
// bug.
type Message struct {
	Type    byte          // 'e', 'a', 'r', 'x', 'm' or 'c'
	Kind    wsevents.Kind // wsevents.KindText, KindJSON or KindBinary
	ID      uint64        // asks and replies only
	Name    string        // the event name; empty for replies and native messages
	Payload []byte
}

// Event returns an event message ('e') of the given kind.
func Event(name string, kind wsevents.Kind, payload string) Message {
	return Message{Type: 'e', Kind: kind, Name: name, Payload: []byte(payload)}
}

// Encode returns the message's bytes and whether it travels in a binary
// frame (kind b does; PROTOCOL.md, Frames).
func (m Message) Encode() (data []byte, binary bool) {
	data = append(data, m.Type, byte(m.Kind))
	if m.ID != 0 {
		data = strconv.AppendUint(data, m.ID, 10)
	}
	data = append(data, ':')
	data = append(data, m.Name...)
	data = append(data, '\n')
	data = append(data, m.Payload...)
	return data, m.Kind == wsevents.KindBinary
}

// String shows the message as PROTOCOL.md writes it, for failure reports.
func (m Message) String() string {
	data, _ := m.Encode()
	return strconv.Quote(string(data))
}

// Equal reports whether two messages are the same on the wire.
func (m Message) Equal(o Message) bool {
	return m.Type == o.Type && m.Kind == o.Kind && m.ID == o.ID && m.Name == o.Name &&
		bytes.Equal(m.Payload, o.Payload)
}

const maxID = 1<<53 - 1

// Decode parses one message and rejects everything PROTOCOL.md section 2
// calls a protocol error. Extensions are checked and dropped.
func Decode(p []byte) (Message, error) {
	var m Message
	lf := bytes.IndexByte(p, '\n')
	if lf < 0 {
		return m, errors.New("no LF after the header")
	}
	head, payload := p[:lf], p[lf+1:]
	if len(head) < 3 {
		return m, errors.New("header too short")
	}
	m.Type, m.Kind = head[0], wsevents.Kind(head[1])
	switch m.Kind {
	case wsevents.KindText, wsevents.KindJSON, wsevents.KindBinary:
	default:
		return m, fmt.Errorf("unknown kind %q", head[1])
	}
	rest := head[2:]
	colon := bytes.IndexByte(rest, ':')
	if colon < 0 {
		return m, errors.New("missing ':'")
	}
	if digits := rest[:colon]; len(digits) > 0 {
		if digits[0] == '0' || len(digits) > 16 {
			return m, errors.New("id out of range")
		}
		id, err := strconv.ParseUint(string(digits), 10, 64)
		if err != nil || id > maxID {
			return m, errors.New("malformed or out-of-range id")
		}
		m.ID = id
	}
	name, ext, hasExt := bytes.Cut(rest[colon+1:], []byte(";"))
	if len(name) > 256 {
		return m, errors.New("name longer than 256 bytes")
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return m, errors.New("control byte in name")
		}
	}
	if hasExt {
		for _, field := range bytes.Split(ext, []byte(";")) {
			key, value, ok := bytes.Cut(field, []byte("="))
			if !ok || len(key) == 0 || len(key) > 16 {
				return m, errors.New("malformed extension")
			}
			for _, c := range key {
				if c < 'a' || c > 'z' {
					return m, errors.New("malformed extension key")
				}
			}
			for _, c := range value {
				if c < 0x20 || c == 0x7f {
					return m, errors.New("control byte in extension")
				}
			}
		}
	}
	m.Name = string(name)

	hasID, hasName := m.ID != 0, len(name) > 0
	switch m.Type {
	case 'e':
		if hasID || !hasName {
			return m, errors.New("event needs a name and no id")
		}
	case 'a':
		if !hasID || !hasName {
			return m, errors.New("ask needs an id and a name")
		}
	case 'r', 'x':
		if !hasID || hasName {
			return m, errors.New("reply needs an id and no name")
		}
	case 'm':
		if hasID || hasName || m.Kind == wsevents.KindJSON {
			return m, errors.New("native message takes no id, no name, kind t or b")
		}
	case 'c':
		if !hasName {
			return m, errors.New("control message needs a name")
		}
	default:
		return m, fmt.Errorf("unknown type %q", m.Type)
	}
	if m.Kind == wsevents.KindJSON && len(payload) == 0 {
		return m, errors.New("empty JSON payload")
	}
	m.Payload = append([]byte{}, payload...)
	return m, nil
}
