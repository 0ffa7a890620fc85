package thirdparty

import (
	"bytes"
	"fmt"
	"strconv"
)

// A tiny, independent codec for PROTOCOL.md section 2, so these tests do
// not trust core's own encoder and decoder.

type wmsg struct {
	typ     byte // e a r x m c
	kind    byte // t j b
	id      uint64
	name    string
	payload string
}

func enc(typ, kind byte, id uint64, name, payload string) []byte {
	b := []byte{typ, kind}
	if id != 0 {
		b = strconv.AppendUint(b, id, 10)
	}
	b = append(b, ':')
	b = append(b, name...)
	b = append(b, '\n')
	return append(b, payload...)
}

// event encodes "et:name\npayload".
func event(name, payload string) []byte { return enc('e', 't', 0, name, payload) }

func dec(p []byte) (wmsg, error) {
	lf := bytes.IndexByte(p, '\n')
	if lf < 3 {
		return wmsg{}, fmt.Errorf("not a wsevents message: %q", trunc(p))
	}
	head := p[:lf]
	m := wmsg{typ: head[0], kind: head[1], payload: string(p[lf+1:])}
	colon := bytes.IndexByte(head, ':')
	if colon < 2 {
		return wmsg{}, fmt.Errorf("no ':' in header %q", head)
	}
	if colon > 2 {
		id, err := strconv.ParseUint(string(head[2:colon]), 10, 64)
		if err != nil {
			return wmsg{}, fmt.Errorf("bad id in header %q", head)
		}
		m.id = id
	}
	name := head[colon+1:]
	if semi := bytes.IndexByte(name, ';'); semi >= 0 {
		name = name[:semi]
	}
	m.name = string(name)
	return m, nil
}

func (m wmsg) String() string {
	return string(enc(m.typ, m.kind, m.id, m.name, trunc([]byte(m.payload))))
}

func trunc(p []byte) string {
	if len(p) > 80 {
		return string(p[:80]) + "..."
	}
	return string(p)
}
