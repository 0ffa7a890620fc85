package wsevents

import (
	"net"
	"sync"
	"time"
)

// outgoing is one message on its way to one or many connections. It is
// encoded once for event-mode connections; the variants other recipients
// need (native framing, deflated) are built at most once each, on first
// use, and shared by every recipient of that variant.
type outgoing struct {
	srv    *Server
	native bool   // an EmitMessage: native-mode recipients get the raw payload
	op     byte   // opText or opBinary
	msg    *frame // event-mode framing, uncompressed
	hdrLen int    // bytes of the wsevents header inside msg's body
	// variants, built lazily: [0] event+deflate, [1] raw, [2] raw+deflate
	vars [3]*frame
	vok  [3]bool
	// While fanOut holds the registry lock, recipients that overflowed wait
	// in slow for OnSlowConsumer, which runs after the lock is released.
	fanning bool
	slow    []*Conn
}

// encodeEvent builds an outgoing event, ask or reply. It fails only for an
// invalid name or a payload that cannot be encoded.
func (s *Server) encodeEvent(typ byte, id uint64, event string, data any) (outgoing, error) {
	f := s.frames.get()
	f.buf = appendHeader(f.buf, typ, KindText, id, event)
	hdrLen := len(f.buf) - maxServerHeader
	var (
		kind Kind
		err  error
	)
	f.buf, kind, err = appendPayload(f.buf, data)
	if err != nil {
		s.frames.release(f)
		return outgoing{}, err
	}
	f.buf[maxServerHeader+1] = byte(kind)
	op := opText
	if kind == KindBinary || s.cfg.BinaryMessages {
		op = opBinary
	}
	f.finish(op, false)
	return outgoing{srv: s, op: op, msg: f, hdrLen: hdrLen}, nil
}

// encodeRaw builds an outgoing event from an already encoded payload.
func (s *Server) encodeRaw(event string, kind Kind, payload []byte) (outgoing, error) {
	switch kind {
	case KindText:
		if !validUTF8(payload) {
			return outgoing{}, errNativeUTF8
		}
	case KindBinary:
	case KindJSON:
		if len(payload) == 0 {
			return outgoing{}, errEmptyJSON
		}
	default:
		return outgoing{}, ErrWrongKind
	}
	return s.encodeBytes(typeEvent, kind, event, payload), nil
}

// encodeBytes frames an already encoded payload of a valid kind.
func (s *Server) encodeBytes(typ byte, kind Kind, event string, payload []byte) outgoing {
	f := s.frames.get()
	f.buf = appendHeader(f.buf, typ, kind, 0, event)
	hdrLen := len(f.buf) - maxServerHeader
	f.buf = append(f.buf, payload...)
	op := opText
	if kind == KindBinary || s.cfg.BinaryMessages {
		op = opBinary
	}
	f.finish(op, false)
	return outgoing{srv: s, native: typ == typeNative, op: op, msg: f, hdrLen: hdrLen}
}

// encodeNative builds an outgoing native message. data is []byte, string
// or Message; a []byte that is not valid UTF-8 goes in a binary frame.
func (s *Server) encodeNative(data any) (outgoing, error) {
	var (
		payload []byte
		kind    Kind
	)
	switch v := data.(type) {
	case string:
		payload, kind = stringBytes(v), KindText
	case []byte:
		payload, kind = v, KindText
		if !validUTF8(v) {
			kind = KindBinary
		}
	case Message:
		payload, kind = v.Data, v.Kind
		if kind == KindJSON {
			kind = KindText
		}
	default:
		return outgoing{}, errNativeType
	}
	if kind == KindText && !validUTF8(payload) {
		return outgoing{}, errNativeUTF8
	}
	return s.encodeBytes(typeNative, kind, "", payload), nil
}

// frameFor returns the variant c needs, or nil when c cannot take it (an
// event for a native-mode connection).
func (o *outgoing) frameFor(c *Conn) *frame {
	v := -1
	switch {
	case c.eventMode && !c.deflate:
		return o.msg
	case c.eventMode:
		v = 0
	case !o.native:
		return nil
	case !c.deflate:
		v = 1
	default:
		v = 2
	}
	if !o.vok[v] {
		o.vok[v] = true
		o.vars[v] = o.build(v)
	}
	return o.vars[v]
}

func (o *outgoing) build(v int) *frame {
	body := o.msg.body()
	op := o.op
	if v >= 1 {
		body = body[o.hdrLen:]
	}
	if v == 1 || (v == 2 && len(body) < compressionThreshold) {
		f := o.srv.frames.get()
		f.buf = append(f.buf, body...)
		f.finish(op, false)
		return f
	}
	if v == 0 && len(body) < compressionThreshold {
		o.msg.refs.Add(1)
		return o.msg
	}
	f := o.srv.frames.get()
	f.buf = o.srv.deflate(f.buf, body)
	f.finish(op, true)
	return f
}

// done drops the encoder's own references; frames live on in the queues
// they were put on.
func (o *outgoing) done() {
	o.srv.frames.release(o.msg)
	for i, f := range o.vars {
		if f != nil {
			o.srv.frames.release(f)
			o.vars[i] = nil
		}
	}
}

// send queues o on c. It never blocks on c's socket.
func (c *Conn) send(o *outgoing) error {
	f := o.frameFor(c)
	if f == nil {
		return ErrNativeConnection
	}
	err := c.enqueueFlush(f, !o.fanning)
	if err == ErrQueueFull && c.srv.cfg.OnSlowConsumer != nil {
		if o.fanning {
			o.slow = append(o.slow, c)
		} else {
			c.srv.cfg.OnSlowConsumer(c, c.dropped.Load())
		}
	}
	return err
}

// enqueue adds f to c's outbound queue, applying the slow-consumer policy
// when the queue is full, and schedules the connection for writing. It
// never blocks on the network.
func (c *Conn) enqueue(f *frame) error { return c.enqueueFlush(f, false) }

// enqueueFlush is enqueue; with inline set, a connection nobody is writing
// for is written by the caller itself, in one non-blocking write (a socket
// that is backed up still gets a writer of its own). Emits to one
// connection use it: no hand-off to a writer goroutine per message.
// Fan-outs do not: their writes spread over the shared writers.
func (c *Conn) enqueueFlush(f *frame, inline bool) error {
	n := len(f.bytes())
	c.wmu.Lock()
	if c.wclosed {
		c.wmu.Unlock()
		return ErrClosed
	}
	// One message over the byte limit still goes when nothing is queued.
	if len(c.queue) >= c.srv.cfg.MaxQueuedMessages || (len(c.queue) > 0 && c.qbytes+n > c.srv.cfg.MaxQueuedBytes) {
		c.wmu.Unlock()
		return c.overflow()
	}
	if c.client {
		f = c.srv.frames.masked(f) // a copy of its own: masks differ per frame
	} else {
		f.refs.Add(1)
	}
	c.queue = append(c.queue, f)
	c.qbytes += n
	start := !c.flushing
	c.flushing = true
	c.wmu.Unlock()
	if start {
		if inline && c.rawW != nil {
			c.flushNonBlocking()
		} else {
			c.srv.schedule(c)
		}
	}
	return nil
}

// enqueueControl queues a frame we built for c alone (ping, pong), taking
// over its reference. Control frames bypass the queue limits: they are
// tiny and the peer needs them to stay alive.
func (c *Conn) enqueueControl(f *frame) {
	f = c.own(f)
	c.wmu.Lock()
	if c.wclosed {
		c.wmu.Unlock()
		c.srv.frames.release(f)
		return
	}
	c.queue = append(c.queue, f)
	c.qbytes += len(f.bytes())
	start := !c.flushing
	c.flushing = true
	c.wmu.Unlock()
	if start {
		c.srv.schedule(c)
	}
}

// own turns a frame built for this connection alone into what it sends:
// unchanged on the server side, masked on the client side.
func (c *Conn) own(f *frame) *frame {
	if !c.client {
		return f
	}
	m := c.srv.frames.masked(f)
	c.srv.frames.release(f)
	return m
}

// overflow applies the slow-consumer policy; send calls OnSlowConsumer.
func (c *Conn) overflow() error {
	c.dropped.Add(1)
	c.srv.stats.dropped.Add(1)
	if c.srv.cfg.SlowConsumer == SlowConsumerDrop {
		return ErrQueueFull
	}
	c.closeAsync(StatusPolicyViolation, "slow consumer", false)
	return ErrQueueFull
}

// flush is the blocking writer of one connection, for sockets that are
// backed up (and for the close frame): it writes everything queued, one
// vectored write per batch with WriteTimeout, then the close frame if one
// is pending, and exits when nothing is left.
func (c *Conn) flush() {
	for {
		c.wmu.Lock()
		batch := c.queue
		closing := c.closeFrame
		if len(batch) == 0 && closing == nil {
			c.flushing = false
			c.wmu.Unlock()
			if c.srv.cfg.WriteTimeout > 0 {
				// An expired deadline would fail the next direct write.
				c.netConn.SetWriteDeadline(time.Time{})
			}
			return
		}
		head := c.headOff
		c.headOff = 0
		c.queue = c.spare[:0]
		c.spare = nil
		if len(batch) == 0 {
			c.closeFrame = nil
			c.wclosed = true
		}
		c.wmu.Unlock()

		var err error
		if len(batch) > 0 {
			err = c.writeBatch(batch, head)
			c.wmu.Lock()
			c.qbytes += head
			for i, f := range batch {
				c.qbytes -= len(f.bytes())
				c.srv.frames.release(f)
				batch[i] = nil
			}
			c.spare = batch[:0]
			c.wmu.Unlock()
		} else {
			err = c.writeFrame(closing)
			c.srv.frames.release(closing)
			c.closeSent.Store(true)
			c.wmu.Lock()
			c.flushing = false
			c.wmu.Unlock()
			if err != nil {
				c.closeSocket()
			}
			c.closeFinished()
			c.closeWritten()
			return
		}
		if err != nil {
			c.writeFailed(err)
			return
		}
	}
}

// writeBatch writes batch in one vectored write; the first head bytes of
// the first frame already left.
func (c *Conn) writeBatch(batch []*frame, head int) error {
	if t := c.srv.cfg.WriteTimeout; t > 0 {
		c.netConn.SetWriteDeadline(time.Now().Add(t))
	}
	if len(batch) == 1 {
		_, err := c.netConn.Write(batch[0].bytes()[head:])
		return err
	}
	v := vectors.Get().(*writeVectors)
	iov := v.iov[:0]
	for i, f := range batch {
		if i == 0 {
			iov = append(iov, f.bytes()[head:])
			continue
		}
		iov = append(iov, f.bytes())
	}
	v.nb = net.Buffers(iov)
	_, err := v.nb.WriteTo(c.netConn)
	clear(iov)
	v.iov, v.nb = iov[:0], nil
	vectors.Put(v)
	return err
}

// writeVectors is writeBatch's scratch, pooled: only a connection whose
// socket is backed up writes that way, so no connection keeps one.
type writeVectors struct {
	iov [][]byte
	nb  net.Buffers
}

var vectors = sync.Pool{New: func() any { return new(writeVectors) }}

func (c *Conn) writeFrame(f *frame) error {
	if t := c.srv.cfg.WriteTimeout; t > 0 {
		c.netConn.SetWriteDeadline(time.Now().Add(t))
	}
	_, err := c.netConn.Write(f.bytes())
	return err
}

// writeFailed ends a connection whose socket no longer takes writes (the
// write timeout passed, or the peer reset). Nothing more can be sent, so
// the socket is closed and the read loop finishes the cleanup.
func (c *Conn) writeFailed(err error) {
	c.wmu.Lock()
	c.wclosed = true
	c.flushing = false
	queue := c.queue
	c.queue = nil
	if c.closeFrame != nil {
		queue = append(queue, c.closeFrame)
		c.closeFrame = nil
	}
	c.wmu.Unlock()
	for _, f := range queue {
		c.srv.frames.release(f)
	}
	c.closeFinished()
	c.setCloseErr(&CloseError{Code: StatusAbnormal, Reason: "write failed: " + err.Error()})
	c.closeSocket() // its goroutine sees the closed socket and finishes
}
