package wsevents

import "runtime"

// Writing is done by a few server-wide writer goroutines, started when a
// connection has something to send and gone when no connection has. A
// writer takes a ready connection and writes its whole queue in one
// vectored, non-blocking write. If the socket takes everything (the usual
// case) the connection is done; if not, the connection gets a blocking
// writer of its own (flush) bounded by WriteTimeout, so a slow reader never
// holds up a shared writer. So an idle connection has no writer goroutine,
// a broadcast to N connections starts at most a handful of goroutines, and
// frames queued while a write is under way leave together in the next one.
// Where several connections are ready at once (a fan-out) and io_uring is
// available, a writer hands up to 1,024 of them to the kernel in one
// submission instead (uring_linux.go), with the same accounting.

// maxWriters bounds the shared writers: more than the cores cannot write
// faster.
func maxWriters() int { return runtime.GOMAXPROCS(0) }

// schedule hands c (whose flushing flag the caller set) to the writers.
func (s *Server) schedule(c *Conn) {
	if c.rawW == nil {
		go c.flush() // no non-blocking write here: a writer of its own
		return
	}
	s.wq.mu.Lock()
	s.wq.ready = append(s.wq.ready, c)
	spawn := s.wq.writers < s.wq.max
	if spawn {
		s.wq.writers++
	}
	s.wq.mu.Unlock()
	if spawn {
		go s.wq.run()
	}
}

func (s *Server) writer() {
	r := takeRing() // nil where sends are not batched
	defer putRing(r)
	many := r.readyList() // within its capacity: no allocation per burst
	for n := 1; ; n++ {
		if n%yieldEvery == 0 {
			// A writer busy for long is in a system call most of the
			// time; yielding now and then keeps the runtime from taking
			// its P away in one (a thread switch each time).
			runtime.Gosched()
		}
		s.wq.mu.Lock()
		if s.wq.head == len(s.wq.ready) {
			clear(s.wq.ready)
			s.wq.ready, s.wq.head = s.wq.ready[:0], 0
			s.wq.writers--
			s.wq.mu.Unlock()
			return
		}
		if k := len(s.wq.ready) - s.wq.head; r != nil && k > 1 {
			// Several ready: one submission for all of them.
			k = min(k, r.capacity())
			many = append(many[:0], s.wq.ready[s.wq.head:s.wq.head+k]...)
			clear(s.wq.ready[s.wq.head : s.wq.head+k])
			s.wq.head += k
			s.wq.mu.Unlock()
			r.sendAll(many)
			clear(many)
			runtime.Gosched() // after each submission, as every yieldEvery connections
			continue
		}
		c := s.wq.ready[s.wq.head]
		s.wq.ready[s.wq.head] = nil
		s.wq.head++
		s.wq.mu.Unlock()
		c.flushNonBlocking()
	}
}

const yieldEvery = 64

// flushNonBlocking writes c's queue without waiting on the socket. It
// returns when the queue is empty, or after handing c to a blocking
// writer.
func (c *Conn) flushNonBlocking() {
	if batch, head, ok := c.takeBatch(); ok {
		c.writeFrom(batch, head)
	}
}

// writeFrom writes batch, taken by takeBatch, and then whatever else is
// queued, as flushNonBlocking does.
func (c *Conn) writeFrom(batch []*frame, head int) {
	for {
		written, err := c.tryWritev(batch, head)
		if !c.wrote(batch, head, written, err) {
			return
		}
		var ok bool
		if batch, head, ok = c.takeBatch(); !ok {
			return
		}
	}
}

// takeBatch takes what a non-blocking write sends next: the queue's
// frames (at most maxIovecs), the first of them from byte head. It
// reports false when there is nothing to write: the connection's flushing
// is over, or its close frame went to a writer of its own.
func (c *Conn) takeBatch() (batch []*frame, head int, ok bool) {
	c.wmu.Lock()
	batch = c.queue
	if len(batch) == 0 {
		if c.closeFrame == nil {
			c.flushing = false
			c.wmu.Unlock()
			return nil, 0, false
		}
		c.wmu.Unlock()
		go c.flush() // the close frame: written with its deadline
		return nil, 0, false
	}
	if len(batch) > maxIovecs {
		batch = batch[:maxIovecs]
		c.queue = c.queue[maxIovecs:]
	} else {
		c.queue = c.spare[:0]
		c.spare = nil
	}
	head = c.headOff
	c.wmu.Unlock()
	return batch, head, true
}

// wrote accounts for a non-blocking write of batch (from byte head) that
// took written bytes: it releases the frames that left and puts the rest
// back in front of the queue. It reports whether more is queued for the
// caller to write; if not, flushing is over, or the connection failed or
// has a blocking writer now.
func (c *Conn) wrote(batch []*frame, head, written int, err error) bool {
	if err != nil {
		c.wmu.Lock()
		c.queue = append(batch, c.queue...)
		c.wmu.Unlock()
		c.writeFailed(err)
		return false
	}
	done, off := 0, head+written
	for done < len(batch) && off >= len(batch[done].bytes()) {
		off -= len(batch[done].bytes())
		done++
	}
	c.wmu.Lock()
	c.qbytes -= written
	for i := 0; i < done; i++ {
		c.srv.frames.release(batch[i])
		batch[i] = nil
	}
	if done < len(batch) {
		c.headOff = off
		c.queue = append(batch[done:len(batch):len(batch)], c.queue...)
		c.wmu.Unlock()
		go c.flush() // the socket is full: this connection waits alone
		return false
	}
	c.headOff = 0
	if c.spare == nil && cap(batch) <= 4*c.srv.cfg.MaxQueuedMessages {
		c.spare = batch[:0]
	}
	if len(c.queue) > 0 {
		c.wmu.Unlock()
		return true
	}
	// All sent: flushing ends here, without another look at the queue.
	closing := c.closeFrame != nil
	if !closing {
		c.flushing = false
	}
	c.wmu.Unlock()
	if closing {
		go c.flush() // the close frame: written with its deadline
	}
	return false
}

const maxIovecs = 1024 // IOV_MAX on Linux
