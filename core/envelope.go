package wsevents

import (
	"encoding/binary"
)

// Envelope kinds.
const (
	envAll       byte = 'a'
	envBroadcast byte = 'b'
	envRoom      byte = 'r'
	envTarget    byte = 't'
	envAsk       byte = 'q'
	envReply     byte = 'p'
	envCount     byte = 'n'
	envCountAns  byte = 'N'
	envHello     byte = 'h'
	envBye       byte = 'g'
)

// The envelope, version 1: node-to-node messages are binary; strings are a
// uvarint length and the bytes:
//
//	version   byte      1
//	kind      byte      a all | b broadcast | r room | t room or connection
//	                    q ask | p ask reply | n count query | N count answer | h hello | g goodbye
//	origin    string    node ID of the publisher
//	target    string    room name or connection ID (error text in p)
//	exclude   string    connection ID that must not receive it (the sender)
//	request   uvarint   request ID of q/p/n/N
//	deadline  uvarint   q: Unix milliseconds after which the asker stopped waiting, 0 none
//	body      bytes     the rest: an event-mode message (PROTOCOL.md section 2),
//	                    or for N the member count as a uvarint
//
// All the nodes of a cluster must run versions of wsevents that speak the
// same envelope version; a node drops envelopes of another version and
// counts them as Undecodable.
//
// envelope is a decoded one; its byte slices alias the received data.
type envelope struct {
	kind     byte
	origin   []byte
	target   []byte
	exclude  []byte
	req      uint64
	deadline uint64
	body     []byte
}

func appendEnvelope(dst []byte, kind byte, origin, target, exclude string, req, deadline uint64, body []byte) []byte {
	if dst == nil {
		dst = make([]byte, 0, 2+3*binary.MaxVarintLen16+len(origin)+len(target)+len(exclude)+2*binary.MaxVarintLen64+len(body))
	}
	dst = append(dst, envelopeV1, kind)
	for _, s := range [...]string{origin, target, exclude} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, req)
	dst = binary.AppendUvarint(dst, deadline)
	return append(dst, body...)
}

func parseEnvelope(p []byte) (e envelope, ok bool) {
	if len(p) < 2 || p[0] != envelopeV1 {
		return e, false
	}
	e.kind = p[1]
	p = p[2:]
	for _, dst := range [...]*[]byte{&e.origin, &e.target, &e.exclude} {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return e, false
		}
		*dst = p[k : k+int(n)]
		p = p[k+int(n):]
	}
	for _, dst := range [...]*uint64{&e.req, &e.deadline} {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return e, false
		}
		*dst = v
		p = p[k:]
	}
	e.body = p
	return e, len(e.origin) > 0
}
