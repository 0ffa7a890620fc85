package wsevents

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// failure is a reason to fail the connection with a close code.
type failure struct {
	code   StatusCode
	reason string
}

// Error is the close reason.
func (f *failure) Error() string { return f.reason }

func fail(code StatusCode, reason string) *failure { return &failure{code, reason} }

// errStop ends the read loop after a close frame arrived.
var errStop = errors.New("stop")

// readLoop reads frames until the connection ends. It runs on the
// connection's own goroutine and is the only reader of rd.
func (c *Conn) readLoop() error {
	rd := &c.rd
	var (
		msgOp   byte // opcode of the message in progress, 0 if none
		msgComp bool
		msgFrag int // frames of the message in progress
		msgBuf  []byte
		msgLen  int64
		utf     utf8Stream
	)
	maxSize := c.srv.cfg.MaxMessageSize
	for {
		rd.inMsg = msgOp != 0
		rd.parkOK = msgOp == 0
		if err := rd.ensure(2); err != nil {
			rd.parkOK = false
			return err
		}
		rd.parkOK = false
		c.heard.Store(true)
		rd.inMsg = true
		b0, b1 := rd.buf[rd.r], rd.buf[rd.r+1]
		fin, rsv, op := b0&finBit != 0, b0&0x70, b0&0x0F
		masked, length := b1&0x80 != 0, int64(b1&0x7F)
		hl := 2
		switch length {
		case 126:
			hl += 2
		case 127:
			hl += 8
		}
		if masked {
			hl += 4
		}
		if err := rd.ensure(hl); err != nil {
			return err
		}
		p := rd.buf[rd.r : rd.r+hl]
		switch length {
		case 126:
			length = int64(binary.BigEndian.Uint16(p[2:]))
			if length < 126 {
				return fail(StatusProtocolError, "length not minimally encoded")
			}
		case 127:
			u := binary.BigEndian.Uint64(p[2:])
			if u>>63 != 0 {
				return fail(StatusProtocolError, "frame length has the most significant bit set")
			}
			length = int64(u)
			if length <= 0xFFFF {
				return fail(StatusProtocolError, "length not minimally encoded")
			}
		}
		var mask [4]byte
		if masked {
			copy(mask[:], p[hl-4:])
		}
		rd.r += hl
		rd.skip = length // the payload still unread, for drain after a failure

		if masked != !c.client {
			if c.client {
				return fail(StatusProtocolError, "server frame is masked")
			}
			return fail(StatusProtocolError, "client frame is not masked")
		}
		if rsv&^rsv1Bit != 0 {
			return fail(StatusProtocolError, "reserved bits set")
		}
		switch op {
		case opClose, opPing, opPong:
			if !fin || length > 125 {
				return fail(StatusProtocolError, "fragmented or oversized control frame")
			}
			if rsv != 0 {
				return fail(StatusProtocolError, "reserved bit set on a control frame")
			}
			if err := rd.ensure(int(length)); err != nil {
				return err
			}
			payload := rd.buf[rd.r : rd.r+int(length)]
			ws.Cipher(payload, mask, 0)
			rd.r += int(length)
			rd.skip = 0
			if err := c.control(op, payload); err != nil {
				return err
			}
			if msgOp == 0 {
				rd.endMessage()
				// A ping or pong alone (keepalive) does not make the
				// connection busy: it parks again at once, not after
				// parkAfter, if nothing else is there.
				rd.parkSoon()
			}
			continue
		case opContinuation:
			if msgOp == 0 {
				return fail(StatusProtocolError, "continuation frame without a message")
			}
			if rsv != 0 {
				return fail(StatusProtocolError, "reserved bit set on a continuation frame")
			}
		case opText, opBinary:
			if msgOp != 0 {
				return fail(StatusProtocolError, "new message before the previous one ended")
			}
			if rsv != 0 && !c.deflate {
				return fail(StatusProtocolError, "compression bit set without permessage-deflate")
			}
			msgOp, msgComp, msgLen, msgFrag = op, rsv != 0, 0, 0
			utf.reset()
		default:
			return fail(StatusProtocolError, "reserved opcode")
		}

		msgLen += length
		if msgFrag++; msgFrag > maxFragments(maxSize) {
			// Empty fragments cost no memory but unbounded work.
			return fail(StatusMessageTooBig, "too many fragments")
		}
		if msgLen > maxSize && (!msgComp || msgLen > compressedLimit(maxSize)) {
			return fail(StatusMessageTooBig, "message larger than the limit")
		}
		var data []byte
		if fin && msgBuf == nil && length <= int64(len(rd.buf)) {
			// Whole message in one frame that fits the buffer: no copy.
			if msgOp == opText && !msgComp && rd.buffered() < int(length) {
				// Fail fast: check the text as it arrives, not only
				// once the whole frame is here.
				if err := c.checkArriving(mask, int(length), &utf); err != nil {
					return err
				}
			}
			if err := rd.ensure(int(length)); err != nil {
				return err
			}
			data = rd.buf[rd.r : rd.r+int(length)]
			ws.Cipher(data, mask, 0)
			rd.r += int(length)
			rd.skip = 0
			if msgOp == opText && !msgComp && !utf8.Valid(data) {
				return fail(StatusInvalidPayload, "invalid UTF-8 in a text message")
			}
		} else {
			// Stream the payload, checking text as it arrives.
			checkText := msgOp == opText && !msgComp
			for off, rest := 0, int(length); rest > 0; {
				if rd.buffered() == 0 {
					if err := rd.fill(); err != nil {
						return err
					}
				}
				n := min(rd.buffered(), rest)
				chunk := rd.buf[rd.r : rd.r+n]
				ws.Cipher(chunk, mask, off)
				if checkText && !utf.write(chunk) {
					return fail(StatusInvalidPayload, "invalid UTF-8 in a text message")
				}
				if msgBuf == nil {
					msgBuf = make([]byte, 0, min(msgLen, maxSize))
				}
				msgBuf = append(msgBuf, chunk...)
				rd.r += n
				rd.skip -= int64(n)
				off += n
				rest -= n
			}
			if msgBuf == nil {
				msgBuf = []byte{}
			}
			if !fin {
				continue
			}
			if checkText && !utf.complete() {
				return fail(StatusInvalidPayload, "text message ends inside a UTF-8 sequence")
			}
			data = msgBuf
		}
		if msgComp {
			var err error
			if data, err = c.inflater.inflate(data, maxSize); err != nil {
				return err
			}
			if msgOp == opText && !utf8.Valid(data) {
				return fail(StatusInvalidPayload, "invalid UTF-8 in a text message")
			}
		}
		if c.state.Load() == stateOpen {
			if err := c.dispatchSafe(msgOp, data); err != nil {
				return err
			}
		}
		msgOp, msgBuf = 0, nil
		rd.endMessage()
	}
}

// dispatchBuffered dispatches the messages at the front of the read buffer
// that take no state from one frame to the next: complete, unfragmented,
// uncompressed text or binary frames within the size limit. It runs in the
// idle wait's read callback (reader_unix.go), which holds the socket's
// descriptor while the handlers run; beginInline and endInline tell
// closeSocket so. It reports whether it consumed every byte. When it did
// not, the read loop takes what is left (a partial frame, or one the loop's
// general path handles, checks included), unless it stopped: rd.rawErr
// holds a failure, or rd.closeOwed a close that came meanwhile.
func (c *Conn) dispatchBuffered() (done bool) {
	rd := &c.rd
	if !c.beginInline() {
		return false
	}
	defer func() {
		// Deferred: a handler that ends its goroutine (runtime.Goexit)
		// must not leave closeSocket thinking it still runs inline.
		if c.endInline() {
			rd.closeOwed = true
			done = false
		}
	}()
	for {
		p := rd.buf[rd.r:rd.w]
		if len(p) == 0 {
			done = true
			break
		}
		if len(p) < 2 {
			break
		}
		b0, b1 := p[0], p[1]
		if b0 != finBit|opText && b0 != finBit|opBinary || (b1&0x80 != 0) == c.client {
			break
		}
		length, hl := int(b1&0x7F), 2
		if length == 126 {
			if len(p) < 4 {
				break
			}
			length, hl = int(binary.BigEndian.Uint16(p[2:])), 4
			if length < 126 {
				break
			}
		} else if length == 127 {
			break
		}
		if !c.client {
			hl += 4
		}
		if len(p) < hl+length || int64(length) > c.srv.cfg.MaxMessageSize {
			break
		}
		data := p[hl : hl+length]
		if !c.client {
			ws.Cipher(data, [4]byte(p[hl-4:hl]), 0)
		}
		rd.r += hl + length
		c.heard.Store(true)
		op := b0 & 0x0F
		if op == opText && !utf8.Valid(data) {
			rd.rawErr = fail(StatusInvalidPayload, "invalid UTF-8 in a text message")
			break
		}
		if c.state.Load() != stateOpen {
			continue
		}
		if err := c.dispatchSafe(op, data); err != nil {
			rd.rawErr = err
			break
		}
	}
	return done
}

// control handles a ping, pong or close frame.
func (c *Conn) control(op byte, payload []byte) error {
	switch op {
	case opPing:
		if c.state.Load() == stateOpen {
			c.enqueueControl(c.srv.frames.controlFrame(opPong, payload))
			c.runHooks(c.pingHooks(true))
		}
		return nil
	case opPong:
		c.runHooks(c.pingHooks(false))
		return nil
	}
	code, reason := StatusNoStatus, ""
	switch {
	case len(payload) == 1:
		return fail(StatusProtocolError, "close frame with a 1-byte payload")
	case len(payload) >= 2:
		code = StatusCode(binary.BigEndian.Uint16(payload))
		if !validCloseCode(code) {
			return fail(StatusProtocolError, "invalid close code")
		}
		if !utf8.Valid(payload[2:]) {
			return fail(StatusInvalidPayload, "close reason is not UTF-8")
		}
		reason = string(payload[2:])
	}
	c.peerDone.Store(true)
	if c.state.CompareAndSwap(stateOpen, stateClosing) {
		c.setCloseErr(&CloseError{Code: code, Reason: reason, Remote: true})
		var echo []byte
		if code != StatusNoStatus {
			echo = closePayload(code, "")
		}
		// What was already queued goes out before the answer (RFC 6455
		// 5.5.1 lets the close wait for the message under way).
		c.queueClose(echo, false)
		c.ctx.cancel()
	} else if c.closeSent.Load() {
		// The answer to our close: the exchange is done.
		c.closeSocket()
	}
	return errStop
}

func validCloseCode(code StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// serve runs a registered connection to its end.
func (c *Conn) serve() {
	err := c.readLoop()
	for err == errPark {
		// Idle: park without a goroutine until the socket is readable
		// (poller_linux.go). A closing connection keeps reading.
		if c.state.Load() == stateOpen && c.park() {
			return
		}
		if c.state.Load() == stateOpen {
			c.rd.parkAfter = 0 // parking failed: do not try again
		}
		err = c.readLoop()
	}
	var f *failure
	switch {
	case errors.As(err, &f):
		// Fail the connection: our close frame, then a bounded wait for the
		// peer's, then TCP.
		if c.closeAsync(f.code, f.reason, true) {
			c.reportError(&CloseError{Code: f.code, Reason: f.reason})
			c.drain()
		}
	case err == errStop:
	case errors.Is(err, os.ErrDeadlineExceeded) && c.state.Load() == stateOpen:
		if c.closeAsync(StatusPolicyViolation, "read timeout", true) {
			c.drain()
		}
	default:
		if c.state.Load() == stateOpen || !c.closeSent.Load() {
			reason := "connection lost"
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				reason += ": " + err.Error()
			}
			c.setCloseErr(&CloseError{Code: StatusAbnormal, Reason: reason, Remote: true})
		}
	}
	c.finish()
}

// drain reads and discards frames until the peer's close frame or the
// close deadline, after this side failed the connection.
func (c *Conn) drain() {
	rd := &c.rd
	// Skip the rest of the frame the read loop failed in: its payload is
	// not a frame header.
	for rd.skip > 0 {
		if rd.buffered() == 0 {
			if err := rd.fill(); err != nil {
				return
			}
		}
		n := min(int64(rd.buffered()), rd.skip)
		rd.r += int(n)
		rd.skip -= n
	}
	for {
		if err := rd.ensure(2); err != nil {
			return
		}
		b1 := rd.buf[rd.r+1]
		length, hl := int(b1&0x7F), 2
		switch length {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if b1&0x80 != 0 {
			hl += 4
		}
		if err := rd.ensure(hl); err != nil {
			return
		}
		p := rd.buf[rd.r : rd.r+hl]
		switch length {
		case 126:
			length = int(binary.BigEndian.Uint16(p[2:]))
		case 127:
			u := binary.BigEndian.Uint64(p[2:])
			if u > uint64(c.srv.cfg.MaxMessageSize) {
				return
			}
			length = int(u)
		}
		op := rd.buf[rd.r] & 0x0F
		rd.r += hl
		for rest := length; rest > 0; {
			if rd.buffered() == 0 {
				if err := rd.fill(); err != nil {
					return
				}
			}
			n := min(rd.buffered(), rest)
			rd.r += n
			rest -= n
		}
		if op == opClose {
			c.peerDone.Store(true)
			return
		}
	}
}

// finish releases everything the connection holds and runs OnDisconnect.
func (c *Conn) finish() {
	c.state.Store(stateClosed)
	c.unparkRelease()
	c.waitCloseWritten()
	c.closeSocket()
	c.rd.r, c.rd.w, c.rd.pending = 0, 0, nil
	c.rd.release()
	c.srv.ka.remove(c)
	c.ctx.cancel()
	for _, room := range c.srv.unregister(c) {
		c.safeHook(func() { c.fireLeave(room) })
	}
	c.failAsks()
	c.wmu.Lock()
	c.wclosed = true
	queue := c.queue
	c.queue = nil
	if c.closeFrame != nil && !c.flushing {
		queue = append(queue, c.closeFrame)
		c.closeFrame = nil
	}
	c.wmu.Unlock()
	for _, f := range queue {
		c.srv.frames.release(f)
	}
	c.closeFinished()
	c.setCloseErr(&CloseError{Code: StatusAbnormal, Reason: "connection lost", Remote: true})
	for _, h := range c.hooks(&c.hs.onDisconnect) {
		c.safeHook(h)
	}
	c.srv.liveDec()
}

// waitCloseWritten gives a queued close frame the time to leave.
func (c *Conn) waitCloseWritten() {
	c.wmu.Lock()
	ch := c.closeDone
	c.wmu.Unlock()
	if ch == nil {
		return
	}
	t := time.NewTimer(c.srv.cfg.WriteTimeout + time.Second)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

func (c *Conn) hooks(list *[]func()) []func() {
	c.hs.mu.Lock()
	defer c.hs.mu.Unlock()
	return *list
}

// pingHooks returns the OnPing hooks (ping) or the OnPong ones.
func (c *Conn) pingHooks(ping bool) []func() {
	c.hs.mu.Lock()
	defer c.hs.mu.Unlock()
	r := c.hs.rare
	switch {
	case r == nil:
		return nil
	case ping:
		return r.onPing
	}
	return r.onPong
}

func (c *Conn) runHooks(hs []func()) {
	for _, h := range hs {
		h()
	}
}

// safeHook runs a lifecycle hook after the connection ended; a panic there
// is reported, not fatal.
func (c *Conn) safeHook(fn func()) {
	defer func() {
		if v := recover(); v != nil {
			c.srv.stats.panics.Add(1)
			c.srv.cfg.Logger.Error("wsevents: handler panic", "conn", c.id, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// checkArriving validates a text frame's first n payload bytes as UTF-8
// while they arrive, unmasking copies so that the buffer is left as it was.
func (c *Conn) checkArriving(mask [4]byte, n int, utf *utf8Stream) error {
	rd := &c.rd
	var tmp [512]byte
	for done := 0; ; {
		avail := min(rd.buffered(), n)
		for done < avail {
			k := copy(tmp[:], rd.buf[rd.r+done:rd.r+avail])
			ws.Cipher(tmp[:k], mask, done)
			if !utf.write(tmp[:k]) {
				return fail(StatusInvalidPayload, "invalid UTF-8 in a text message")
			}
			done += k
		}
		if done == n {
			return nil
		}
		if err := rd.ensure(done + 1); err != nil {
			return err
		}
	}
}

// maxFragments bounds the frames of one message: one per 256 bytes of the
// message limit, and never fewer than 4096 (a 1 MiB limit allows 4096).
func maxFragments(limit int64) int { return int(max(4096, min(limit/256, 1<<20))) }
