package wsevents

import (
	"crypto/rand"

	"encoding/binary"
	"github.com/gobwas/ws"
	"sync"
	"sync/atomic"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation byte = 0x0
	opText         byte = 0x1
	opBinary       byte = 0x2
	opClose        byte = 0x8
	opPing         byte = 0x9
	opPong         byte = 0xA

	finBit  byte = 0x80
	rsv1Bit byte = 0x40

	// maxServerHeader is the largest header of an unmasked frame: the
	// encoder reserves it in front of the payload and fills it right-aligned
	// once the payload length is known, so nothing is copied.
	maxServerHeader = 10
)

// frame is one complete, unmasked server frame, shared by every connection
// it is queued on. refs counts the queues holding it; the last release
// returns it to the pool.
type frame struct {
	buf   []byte // buf[start:] is the frame on the wire
	start int
	refs  atomic.Int32
}

func (f *frame) bytes() []byte { return f.buf[f.start:] }

// body returns the frame payload region while it is being encoded (before
// finish); the message starts at maxServerHeader.
func (f *frame) body() []byte { return f.buf[maxServerHeader:] }

// framePool holds frames of the default write buffer size. Larger frames
// are allocated for their message and dropped after use, so one big
// broadcast does not leave big buffers in the pool.
type framePool struct {
	size int
	pool sync.Pool
}

func newFramePool(size int) *framePool {
	p := &framePool{size: size}
	p.pool.New = func() any { return &frame{buf: make([]byte, 0, size)} }
	return p
}

// get returns a frame with room reserved for the header and refs at 1.
func (p *framePool) get() *frame {
	f := p.pool.Get().(*frame)
	f.buf = f.buf[:maxServerHeader]
	f.start = 0
	f.refs.Store(1)
	return f
}

func (p *framePool) put(f *frame) {
	if cap(f.buf) > 4*p.size {
		return
	}
	p.pool.Put(f)
}

// release drops one reference; the last one returns f to the pool.
func (p *framePool) release(f *frame) {
	if f.refs.Add(-1) == 0 {
		p.put(f)
	}
}

// finish writes the frame header in front of the payload appended after
// maxServerHeader.
func (f *frame) finish(op byte, rsv1 bool) {
	n := len(f.buf) - maxServerHeader
	var hdr [maxServerHeader]byte
	b0 := finBit | op
	if rsv1 {
		b0 |= rsv1Bit
	}
	hdr[0] = b0
	h := 2
	switch {
	case n <= 125:
		hdr[1] = byte(n)
	case n <= 0xFFFF:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		h = 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		h = 10
	}
	f.start = maxServerHeader - h
	copy(f.buf[f.start:], hdr[:h])
}

// controlFrame builds a ping, pong or close frame.
func (p *framePool) controlFrame(op byte, payload []byte) *frame {
	f := p.get()
	f.buf = append(f.buf, payload...)
	f.finish(op, false)
	return f
}

// masked returns a client copy of f (RFC 6455 section 5.3): the mask bit
// set and the payload XORed with a fresh unpredictable key. Client frames
// cannot be shared, so each send pays this copy.
func (p *framePool) masked(f *frame) *frame {
	src := f.bytes()
	hl := 2
	switch src[1] & 0x7F {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	var key [4]byte
	rand.Read(key[:])
	m := p.get()
	m.buf = append(m.buf[:0], src[:hl]...)
	m.buf[1] |= 0x80
	m.buf = append(m.buf, key[:]...)
	m.buf = append(m.buf, src[hl:]...)
	ws.Cipher(m.buf[hl+4:], key, 0)
	return m
}

// closePayload encodes a close frame body: code and a reason cut to fit the
// 125-byte control frame limit on a UTF-8 boundary.
func closePayload(code StatusCode, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
		for len(reason) > 0 && reason[len(reason)-1]&0xC0 == 0x80 {
			reason = reason[:len(reason)-1]
		}
		if len(reason) > 0 && reason[len(reason)-1] >= 0xC0 {
			reason = reason[:len(reason)-1]
		}
	}
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, uint16(code))
	return append(b, reason...)
}
