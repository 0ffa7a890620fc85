package conformance

// A session is one client connection driven by a case: it writes raw bytes
// (chopped as the case says) from the case's goroutine while a reader
// goroutine decodes, checks and reassembles what the server sends into a
// stream of events the case's expectations consume in order.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// chopMode says how the bytes of each write reach the socket.
type chopMode int

const (
	chopNone   chopMode = iota // one write per step
	chopBytes                  // one byte per write (TCP_NODELAY)
	chopRandom                 // random chunks, seeded by the case name
	chopFixed                  // chunks of tcase.chopSize
)

func (m chopMode) String() string {
	return [...]string{"none", "bytewise", "random chunks", "fixed chunks"}[m]
}

type evKind int

const (
	evMessage evKind = iota
	evPong
	evClose
	evEOF // TCP closed (FIN or RST)
	evBad // the server broke the protocol
)

// event is what the server did.
type event struct {
	kind       evKind
	op         byte // evMessage: opText or opBinary
	payload    []byte
	frames     int  // evMessage: frames it arrived in
	compressed bool // evMessage: RSV1 was set
	code       int  // evClose: status code, -1 when the payload was empty
	reason     string
	err        error // evEOF, evBad
}

func (e event) String() string {
	switch e.kind {
	case evMessage:
		c := ""
		if e.compressed {
			c = ", compressed"
		}
		return fmt.Sprintf("%s message of %d bytes in %d frame(s)%s: %s", opName(e.op), len(e.payload), e.frames, c, preview(e.payload))
	case evPong:
		return fmt.Sprintf("pong %s", preview(e.payload))
	case evClose:
		if e.code < 0 {
			return "close frame without a status code"
		}
		return fmt.Sprintf("close frame %d %q", e.code, e.reason)
	case evEOF:
		if e.err != nil && !errors.Is(e.err, errEOF) {
			return "TCP closed (" + e.err.Error() + ")"
		}
		return "TCP closed"
	case evBad:
		return e.err.Error()
	}
	return "?"
}

var errEOF = errors.New("EOF")

func preview(p []byte) string {
	const n = 24
	if len(p) <= n {
		return fmt.Sprintf("%x", p)
	}
	return fmt.Sprintf("%x...(%d bytes)", p[:n], len(p))
}

// maxServerMessage bounds what the reader accepts from the server.
const maxServerMessage = 64 << 20

type session struct {
	conn     *net.TCPConn
	br       *bufio.Reader
	compress bool // permessage-deflate negotiated
	inflater *inflater
	deflater *deflater
	chop     chopMode
	chopSize int
	rng      *rand.Rand
	deadline time.Time // hard end of the case

	events  chan event
	pending []event
	done    chan struct{}
	wg      sync.WaitGroup
	eof     bool // evEOF consumed

	mu    sync.Mutex
	trace []string
}

// tracef records what happened, for reports of non-OK cases.
func (s *session) tracef(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.trace) < 200 {
		s.trace = append(s.trace, fmt.Sprintf(format, args...))
	}
}

func (s *session) transcript() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.trace, "\n")
}

// dial connects and runs the opening handshake. The handshake request is
// written with the case's chopping; pipelined, when given, is written in the
// same write as the request, before the 101 arrives.
func dial(addr, offer string, c *tcase, deadline time.Time, pipelined []byte) (*session, []string, error) {
	d := net.Dialer{Deadline: deadline}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	conn := nc.(*net.TCPConn)
	conn.SetNoDelay(true)
	conn.SetDeadline(deadline)
	s := &session{
		conn:     conn,
		br:       bufio.NewReaderSize(conn, 64<<10),
		chop:     c.chop,
		chopSize: c.chopSize,
		rng:      rand.New(rand.NewPCG(seedOf(c.name()), 1)),
		deadline: deadline,
		events:   make(chan event, 4096),
		done:     make(chan struct{}),
	}
	req, key := handshakeRequest(addr, offer)
	s.tracef("-> handshake, offer %q", offer)
	if err := s.write(append(req, pipelined...)); err != nil {
		conn.Close()
		return nil, nil, err
	}
	exts, err := readHandshake(s.br, key)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	s.tracef("<- 101, extensions %q", exts)
	return s, exts, nil
}

func seedOf(name string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(name); i++ {
		h ^= uint64(name[i])
		h *= 1099511628211
	}
	return h
}

// start runs the reader once the extension is known.
func (s *session) start() {
	s.wg.Add(1)
	go s.reader()
}

// close ends the session: TCP closed, reader stopped.
func (s *session) close() {
	close(s.done)
	s.conn.Close()
	s.wg.Wait()
}

// write sends b, chopped as configured.
func (s *session) write(b []byte) error {
	s.conn.SetWriteDeadline(s.deadline)
	switch s.chop {
	case chopBytes:
		for i := range b {
			if _, err := s.conn.Write(b[i : i+1]); err != nil {
				return err
			}
		}
		return nil
	case chopRandom, chopFixed:
		for len(b) > 0 {
			n := s.chopSize
			if s.chop == chopRandom {
				n = 1 + s.rng.IntN([]int{3, 16, 200, 1500, 9000}[s.rng.IntN(5)])
			}
			n = min(n, len(b))
			if _, err := s.conn.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	}
	_, err := s.conn.Write(b)
	return err
}

// writeFrames encodes and writes frames in one write.
func (s *session) writeFrames(frames ...frame) error {
	var b []byte
	for _, f := range frames {
		var key [4]byte
		binary32(key[:], s.rng.Uint32())
		b = f.appendTo(b, key)
		s.tracef("-> %s", describeFrame(f))
	}
	return s.write(b)
}

func binary32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

func describeFrame(f frame) string {
	var flags []string
	if f.fin {
		flags = append(flags, "FIN")
	}
	if f.rsv&rsv1 != 0 {
		flags = append(flags, "RSV1")
	}
	if f.rsv&rsv2 != 0 {
		flags = append(flags, "RSV2")
	}
	if f.rsv&rsv3 != 0 {
		flags = append(flags, "RSV3")
	}
	if f.unmasked {
		flags = append(flags, "unmasked")
	}
	if f.lenBytes != 0 {
		flags = append(flags, fmt.Sprintf("%d-byte length", f.lenBytes))
	}
	return fmt.Sprintf("%s [%s] %s", opName(f.op), strings.Join(flags, " "), preview(f.payload))
}

// next returns the next event, or ok=false after timeout.
func (s *session) next(timeout time.Duration) (event, bool) {
	if len(s.pending) > 0 {
		e := s.pending[0]
		s.pending = s.pending[1:]
		return e, true
	}
	if s.eof {
		return event{kind: evEOF, err: errEOF}, true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case e, ok := <-s.events:
		if !ok {
			s.eof = true
			return event{kind: evEOF, err: errEOF}, true
		}
		if e.kind == evEOF || e.kind == evBad {
			s.eof = true
		}
		return e, true
	case <-t.C:
		return event{}, false
	}
}

// unread pushes e back.
func (s *session) unread(e event) { s.pending = append([]event{e}, s.pending...) }

func (s *session) emit(e event) bool {
	s.tracef("<- %s", e)
	select {
	case s.events <- e:
		return true
	case <-s.done:
		return false
	}
}

// reader decodes the server's frames into events, checking every rule RFC
// 6455 and RFC 7692 set for what a server sends.
func (s *session) reader() {
	defer s.wg.Done()
	defer close(s.events)
	bad := func(format string, args ...any) {
		s.emit(event{kind: evBad, err: &errServer{fmt.Sprintf(format, args...)}})
	}
	var (
		msgOp  byte
		msgRSV byte
		msg    []byte
		frames int
		closed bool
	)
	for {
		f, err := readFrame(s.br, maxServerMessage)
		if err != nil {
			var es *errServer
			switch {
			case errors.As(err, &es):
				s.emit(event{kind: evBad, err: err})
			case errors.Is(err, net.ErrClosed):
				// our own close at the end of the case
			default:
				if errors.Is(err, io.EOF) {
					err = errEOF
				}
				s.emit(event{kind: evEOF, err: err})
			}
			return
		}
		if closed {
			bad("%s frame after the server's close frame (RFC 6455 5.5.1)", opName(f.op))
			return
		}
		allowed := byte(0)
		if s.compress && (f.op == opText || f.op == opBinary) {
			allowed = rsv1
		}
		if f.rsv&^allowed != 0 {
			bad("RSV bits %03b on a %s frame", f.rsv, opName(f.op))
			return
		}
		switch f.op {
		case opPing:
			// A keepalive ping; cases are shorter than the ping period.
			s.tracef("<- ping %s (ignored)", preview(f.payload))
		case opPong:
			if !s.emit(event{kind: evPong, payload: f.payload}) {
				return
			}
		case opClose:
			closed = true
			e := event{kind: evClose, code: -1}
			switch {
			case len(f.payload) == 1:
				bad("close frame with a 1-byte payload")
				return
			case len(f.payload) >= 2:
				e.code = int(f.payload[0])<<8 | int(f.payload[1])
				e.reason = string(f.payload[2:])
				if !validCloseCode(e.code) {
					bad("close frame with invalid code %d", e.code)
					return
				}
				if !utf8.Valid(f.payload[2:]) {
					bad("close reason is not UTF-8")
					return
				}
			}
			if !s.emit(e) {
				return
			}
		case opText, opBinary, opCont:
			if f.op == opCont {
				if msgOp == 0 {
					bad("continuation frame without a message")
					return
				}
				if f.rsv != 0 {
					bad("RSV1 on a continuation frame (RFC 7692 6.1)")
					return
				}
				msg = append(msg, f.payload...)
				frames++
			} else {
				if msgOp != 0 {
					bad("new %s frame inside a fragmented %s message", opName(f.op), opName(msgOp))
					return
				}
				msgOp, msgRSV, msg, frames = f.op, f.rsv, f.payload, 1
			}
			if len(msg) > maxServerMessage {
				bad("message of more than %d bytes", maxServerMessage)
				return
			}
			if !f.fin {
				continue
			}
			e := event{kind: evMessage, op: msgOp, payload: msg, frames: frames, compressed: msgRSV != 0}
			msgOp, msg = 0, nil
			if e.compressed {
				out, err := s.inflater.inflate(e.payload, maxServerMessage)
				if err != nil {
					bad("%v", err)
					return
				}
				e.payload = out
			}
			if e.op == opText && !utf8.Valid(e.payload) {
				bad("text message that is not valid UTF-8")
				return
			}
			if !s.emit(e) {
				return
			}
		default:
			bad("reserved opcode %d", f.op)
			return
		}
	}
}
