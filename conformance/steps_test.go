package conformance

// Steps are what a case does and expects, in order. Each judges into an
// outcome; a step returns false when the case cannot go on (the
// connection was failed or broken).

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

type verdict int

const (
	vOK verdict = iota
	vNonStrict
	vFailed
)

func (v verdict) String() string { return [...]string{"OK", "NON-STRICT", "FAILED"}[v] }

type outcome struct {
	v     verdict
	notes []string
}

func (o *outcome) nonStrict(format string, args ...any) {
	o.v = max(o.v, vNonStrict)
	o.notes = append(o.notes, "NON-STRICT: "+fmt.Sprintf(format, args...))
}

func (o *outcome) failed(format string, args ...any) {
	o.v = vFailed
	o.notes = append(o.notes, "FAILED: "+fmt.Sprintf(format, args...))
}

type step func(s *session, o *outcome) bool

// Timeouts. The fail-fast wait is how long the suite gives the server to
// fail a connection before it sends the rest of the message; a strict
// server answers within milliseconds.
const (
	failFastWait = 2 * time.Second
	closeTimeout = 3 * time.Second // TCP closed after the close handshake
	quietWait    = 20 * time.Millisecond
)

// RFC references used in verdicts.
const (
	rfcCloseFrame = "RFC 6455 7.1.7: an endpoint that fails an established connection SHOULD send a Close frame with the status code before closing"
	rfcServerTCP  = "RFC 6455 7.1.1: after the closing handshake the server SHOULD close the TCP connection first"
	rfcEchoCode   = "RFC 6455 5.5.1: the answering Close frame typically echoes the received status code"
	rfcFailFast   = "RFC 6455 8.1 requires failing on invalid UTF-8 but does not say when; TESTING.md and Autobahn 6.4 want it as the bytes arrive (fail fast)"
)

func seq(steps ...step) step {
	return func(s *session, o *outcome) bool {
		for _, st := range steps {
			if !st(s, o) {
				return false
			}
		}
		return true
	}
}

// writeOK reports a failed write. A write error is not a verdict by itself:
// the server may have failed the connection already; what it sent says.
func writeOK(s *session, err error) bool {
	if err != nil {
		s.tracef("-> write error: %v", err)
		return false
	}
	return true
}

// send writes frames exactly as given, in one write.
func send(frames ...frame) step {
	return func(s *session, o *outcome) bool {
		writeOK(s, s.writeFrames(frames...))
		return true
	}
}

// sendBytes writes raw bytes.
func sendBytes(b []byte) step {
	return func(s *session, o *outcome) bool {
		s.tracef("-> %d raw bytes %s", len(b), preview(b))
		writeOK(s, s.write(b))
		return true
	}
}

// pause sleeps.
func pause(d time.Duration) step {
	return func(s *session, o *outcome) bool {
		time.Sleep(d)
		return true
	}
}

// messageFrames returns a message's frames: deflated when permessage-deflate
// was negotiated (RSV1 on the first frame only), cut into fragments of
// fragSize bytes (0: one frame).
func messageFrames(s *session, op byte, p []byte, fragSize int) []frame {
	var rsv byte
	if s.compress {
		p = s.deflater.compress(p)
		rsv = rsv1
	}
	return fragment(op, rsv, p, fragSize)
}

func fragment(op, rsv byte, p []byte, fragSize int) []frame {
	if fragSize <= 0 || len(p) <= fragSize {
		return []frame{{fin: true, rsv: rsv, op: op, payload: p}}
	}
	var out []frame
	for i := 0; i < len(p); i += fragSize {
		f := frame{op: opCont, payload: p[i:min(i+fragSize, len(p))]}
		if i == 0 {
			f.op, f.rsv = op, rsv
		}
		f.fin = i+fragSize >= len(p)
		out = append(out, f)
	}
	return out
}

// sendMsg sends a message the way a client would: compressed when
// negotiated, in one frame.
func sendMsg(op byte, p []byte) step { return sendFrag(op, p, 0) }

// sendFrag sends a message (compressed when negotiated) in fragments of
// fragSize bytes.
func sendFrag(op byte, p []byte, fragSize int) step {
	return func(s *session, o *outcome) bool {
		frames := messageFrames(s, op, p, fragSize)
		if len(frames) > 8 {
			s.tracef("-> %s message of %d bytes in %d frames (compressed %v)", opName(op), len(p), len(frames), s.compress)
			var b []byte
			for _, f := range frames {
				var key [4]byte
				binary32(key[:], s.rng.Uint32())
				b = f.appendTo(b, key)
			}
			writeOK(s, s.write(b))
			return true
		}
		writeOK(s, s.writeFrames(frames...))
		return true
	}
}

// echo sends a message and expects it back.
func echo(op byte, p []byte) step { return seq(sendMsg(op, p), expectMsg(op, p)) }

// echoFrag sends a fragmented message and expects it back.
func echoFrag(op byte, p []byte, fragSize int) step {
	return seq(sendFrag(op, p, fragSize), expectMsg(op, p))
}

// nextEvent waits for the next event; a timeout or a server protocol
// violation fails the case.
func nextEvent(s *session, o *outcome, what string) (event, bool) {
	e, ok := s.next(s.wait())
	if !ok {
		o.failed("no %s within %v", what, s.wait())
		return e, false
	}
	if e.kind == evBad {
		o.failed("%v", e.err)
		return e, false
	}
	return e, true
}

// wait is the reply timeout: generous, it only matters when a case fails.
func (s *session) wait() time.Duration {
	return max(time.Until(s.deadline)-closeTimeout, time.Second)
}

// expectMsg expects the next event to be this message.
func expectMsg(op byte, p []byte) step {
	return func(s *session, o *outcome) bool {
		e, ok := nextEvent(s, o, fmt.Sprintf("echo of the %s message", opName(op)))
		if !ok {
			return false
		}
		if e.kind == evClose && (e.code == 1000 || e.code < 0) {
			o.failed("expected the echo of a %s message of %d bytes, got %s: a message the server received (and echoed) before the close was dropped; RFC 6455 5.5.1 lets an endpoint delay its Close until its current message is sent", opName(op), len(p), e)
			return false
		}
		if e.kind != evMessage {
			o.failed("expected the echo of a %s message of %d bytes, got %s", opName(op), len(p), e)
			return false
		}
		if e.op != op {
			o.failed("echo came back as %s, sent as %s", opName(e.op), opName(op))
			return false
		}
		if !bytes.Equal(e.payload, p) {
			o.failed("echo differs: %d bytes, sent %d; first difference at byte %d", len(e.payload), len(p), firstDiff(e.payload, p))
			return false
		}
		return true
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// expectPong expects the next event to be a pong with payload p.
func expectPong(p []byte) step {
	return func(s *session, o *outcome) bool {
		e, ok := nextEvent(s, o, "pong")
		if !ok {
			return false
		}
		if e.kind != evPong {
			o.failed("expected a pong, got %s", e)
			return false
		}
		if !bytes.Equal(e.payload, p) {
			o.failed("pong payload %s, ping had %s (RFC 6455 5.5.3: identical Application data)", preview(e.payload), preview(p))
			return false
		}
		return true
	}
}

// expectUnordered expects these messages and pongs in any order (a pong
// may overtake an echo).
func expectUnordered(want ...event) step {
	return func(s *session, o *outcome) bool {
		left := slices.Clone(want)
		for len(left) > 0 {
			e, ok := nextEvent(s, o, fmt.Sprintf("%d more replies", len(left)))
			if !ok {
				return false
			}
			i := slices.IndexFunc(left, func(w event) bool {
				return w.kind == e.kind && (w.kind != evMessage || w.op == e.op) && bytes.Equal(w.payload, e.payload)
			})
			if i < 0 {
				o.failed("unexpected %s", e)
				return false
			}
			left = slices.Delete(left, i, i+1)
		}
		return true
	}
}

// quiet expects no reaction for a moment (the server must not fail a
// connection over a valid prefix).
func quiet() step {
	return func(s *session, o *outcome) bool {
		e, ok := s.next(quietWait)
		if ok {
			if e.kind == evBad {
				o.failed("%v", e.err)
			} else {
				o.failed("server reacted with %s to data that is valid so far", e)
			}
			return false
		}
		return true
	}
}

// expectFail expects the server to fail the connection with one of codes:
// a close frame, then, after our answering close, TCP closed by the server.
func expectFail(codes ...int) step {
	return func(s *session, o *outcome) bool {
		e, ok := s.next(s.wait())
		if !ok {
			o.failed("connection not failed within %v (want close %s)", s.wait(), codeList(codes))
			return false
		}
		judgeFail(s, o, e, codes, nil, false)
		return false
	}
}

func codeList(codes []int) string {
	var s []string
	for _, c := range codes {
		s = append(s, fmt.Sprint(c))
	}
	return strings.Join(s, " or ")
}

// judgeFail judges the event that should be the server's failing close.
// finish, when set, completes the frame in flight before our answering
// close; drop skips the answering close (the frame in flight cannot be
// completed).
func judgeFail(s *session, o *outcome, e event, codes []int, finish []byte, drop bool) {
	switch e.kind {
	case evClose:
		if !slices.Contains(codes, e.code) {
			o.failed("close code %d %q, want %s", e.code, e.reason, codeList(codes))
		}
		if drop {
			return
		}
		if finish != nil {
			writeOK(s, s.write(finish))
		}
		answerClose(s, e)
		expectTCPClose(s, o)
	case evEOF:
		o.nonStrict("TCP closed without a close frame (want %s): %s", codeList(codes), rfcCloseFrame)
	case evBad:
		o.failed("%v", e.err)
	default:
		o.failed("got %s where close %s was expected: the server went on after the error", e, codeList(codes))
	}
}

func answerClose(s *session, e event) {
	var p []byte
	if e.code >= 0 {
		p = closePayload(e.code, "")
	}
	writeOK(s, s.writeFrames(fr(opClose, p)))
}

// expectTCPClose expects the server to close TCP after the closing
// handshake.
func expectTCPClose(s *session, o *outcome) {
	e, ok := s.next(closeTimeout)
	switch {
	case !ok:
		o.nonStrict("TCP still open %v after the closing handshake: %s", closeTimeout, rfcServerTCP)
	case e.kind == evBad:
		o.failed("%v", e.err)
	case e.kind != evEOF:
		o.failed("got %s after the closing handshake", e)
	case errors.Is(e.err, syscall.ECONNRESET):
		s.tracef("(TCP closed by a reset)")
	}
}

// failFast expects the server to fail with codes before the rest of the
// message is sent. If it does not, finish and later are sent and the close
// is awaited again: a close then is NON-STRICT. finish completes the frame
// in flight (sent even after a fast close, so our answering close parses
// as a frame); later holds further frames. drop: the frame in flight can
// never be completed, so do not answer the close.
func failFast(codes []int, finish, later []byte, drop bool) step {
	return func(s *session, o *outcome) bool {
		e, ok := s.next(failFastWait)
		if ok {
			judgeFail(s, o, e, codes, finish, drop)
			return false
		}
		s.tracef("(no close within %v: sending the rest)", failFastWait)
		if writeOK(s, s.write(finish)) {
			writeOK(s, s.write(later))
		}
		e, ok = s.next(s.wait())
		if !ok {
			o.failed("connection not failed within %v after the whole message (want close %s)", s.wait(), codeList(codes))
			return false
		}
		before := o.v
		judgeFail(s, o, e, codes, nil, false)
		if e.kind == evClose && o.v == before {
			o.nonStrict("fail-fast missed: close %d came only after the rest of the message was sent; %s", e.code, rfcFailFast)
		}
		return false
	}
}

// closeNormal runs the closing handshake from our side with 1000.
func closeNormal() step { return closeWith(closePayload(1000, ""), 1000) }

// closeWith sends a close frame with payload p and expects the server to
// answer with code want (-1: no status code, or 1000) and close TCP.
func closeWith(p []byte, want int) step {
	return func(s *session, o *outcome) bool {
		writeOK(s, s.writeFrames(fr(opClose, p)))
		e, ok := nextEvent(s, o, "answering close frame")
		if !ok {
			return false
		}
		switch {
		case e.kind == evEOF:
			o.failed("TCP closed without answering our close frame: RFC 6455 5.5.1 an endpoint that receives a Close frame MUST send a Close frame in response")
			return false
		case e.kind != evClose:
			o.failed("expected the answering close frame, got %s", e)
			return false
		case e.code == want, want < 0 && e.code == 1000:
		default:
			o.nonStrict("answered close %d with %d: %s", want, e.code, rfcEchoCode)
		}
		expectTCPClose(s, o)
		return false
	}
}

// closeThenCheck sends close plus trailing frames in one write: the server
// must answer the close and ignore the rest (RFC 6455 5.5.1: after a Close
// frame no data is processed).
func closeThenCheck(after ...frame) step {
	return func(s *session, o *outcome) bool {
		writeOK(s, s.writeFrames(append([]frame{fr(opClose, closePayload(1000, ""))}, after...)...))
		e, ok := nextEvent(s, o, "answering close frame")
		if !ok {
			return false
		}
		if e.kind != evClose {
			o.failed("expected the answering close frame, got %s", e)
			return false
		}
		if e.code != 1000 {
			o.nonStrict("answered close 1000 with %d: %s", e.code, rfcEchoCode)
		}
		expectTCPClose(s, o)
		return false
	}
}
