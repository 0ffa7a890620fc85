package wsevents

import (
	"errors"
	"io"
	"os"
	"time"
)

// reader buffers a connection's input. Its buffer comes from the server's
// pool when bytes arrive and goes back when everything read was consumed,
// so an idle connection holds none (see waitReadable).
type reader struct {
	owner   *Conn // the connection this reader is part of (Conn.rd)
	bp      *[]byte
	buf     []byte // nil while idle
	r, w    int
	pending []byte // bytes the HTTP server had read past the handshake
	skip    int64  // payload bytes of the current frame not consumed yet (see drain)

	// deadline set for the message in progress (Config.ReadTimeout)
	timeout  time.Duration
	inMsg    bool
	deadline bool

	// parking (poller_linux.go): an idle wait longer than parkAfter ends
	// the read goroutine with errPark
	parkNow   bool // the first idle wait parks at once (see newConn)
	recent    bool // bytes arrived since the idle deadline was set
	parkOK    bool // set by the read loop while it waits between messages
	idleArmed bool // the idle deadline is set
	// inline: the idle wait's callback dispatches the messages it reads
	// (reader_unix.go); inq: TCP_INQ is on, reads tell whether they
	// drained the socket; closeOwed: a close came while handlers ran in the
	// callback, and is left to the waiter
	inline    bool
	inq       bool
	closeOwed bool
	parkAfter time.Duration

	readFn func(fd uintptr) bool
	rawErr error // the idle wait's read error (or a dispatch failure)
}

func (rd *reader) buffered() int { return rd.w - rd.r }

func (rd *reader) acquire() {
	rd.bp = rd.owner.srv.rbufs.Get().(*[]byte)
	rd.buf = *rd.bp
	rd.r, rd.w = 0, 0
}

// release returns the buffer when it holds nothing unread.
func (rd *reader) release() {
	if rd.buf != nil && rd.r == rd.w {
		rd.owner.srv.rbufs.Put(rd.bp)
		rd.buf, rd.bp = nil, nil
		rd.r, rd.w = 0, 0
	}
}

// fill reads at least one more byte.
func (rd *reader) fill() error {
	// Waiting with a message under way, or with part of a frame already
	// here, is waiting mid-message: ReadTimeout applies.
	// Not once closing: the close deadline (closeAsync) is in force.
	if (rd.inMsg || rd.buffered() > 0) && !rd.deadline && rd.timeout > 0 && rd.owner.state.Load() == stateOpen {
		rd.deadline = true
		rd.idleArmed = false // replaced
		rd.owner.netConn.SetReadDeadline(time.Now().Add(rd.timeout))
	}
	if rd.buf == nil {
		if len(rd.pending) == 0 && rd.owner.rawW != nil {
			if rd.parkOK && rd.parkAfter > 0 && !rd.idleArmed && !rd.deadline && rd.owner.state.Load() == stateOpen {
				rd.idleArmed = true
				rd.recent = false
				d := rd.parkAfter
				if rd.parkNow {
					// Already expired: the wait parks unless data is here.
					d, rd.parkNow = 0, false
				}
				rd.owner.netConn.SetReadDeadline(time.Now().Add(d))
			}
			// Wait for readability holding no buffer; take one only to read.
			for {
				err := rd.owner.waitRaw()
				if !rd.idleDeadline(err) {
					return err
				}
				if rd.recent && rd.owner.state.Load() == stateOpen {
					// Busy since the deadline was set, idle only for a
					// moment: give it another parkAfter (once per
					// parkAfter, not a deadline per message).
					rd.recent = false
					rd.idleArmed = true
					rd.owner.netConn.SetReadDeadline(time.Now().Add(rd.parkAfter))
					continue
				}
				if rd.parkOK {
					return errPark
				}
			}
		}
		rd.acquire()
	}
	if rd.r == rd.w {
		rd.r, rd.w = 0, 0
	} else if rd.w == len(rd.buf) {
		rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
		rd.r = 0
	}
	if len(rd.pending) > 0 {
		n := copy(rd.buf[rd.w:], rd.pending)
		rd.pending = rd.pending[n:]
		if len(rd.pending) == 0 {
			rd.pending = nil
		}
		rd.w += n
		return nil
	}
	// io.Reader allows (0, nil); only many in a row mean a broken conn.
	for range 100 {
		n, err := rd.owner.netConn.Read(rd.buf[rd.w:])
		rd.w += n
		if n > 0 {
			rd.recent = true
			return nil
		}
		if err != nil && !rd.idleDeadline(err) {
			return err
		}
	}
	return io.ErrNoProgress
}

// errPark ends the read loop of a connection that has been idle for
// parkAfter: serve parks it (poller_linux.go).
var errPark = errors.New("park")

// parkSoon makes the next idle wait park unless bytes are already there
// (Linux; nothing where connections do not park). Between messages only.
func (rd *reader) parkSoon() {
	if rd.parkAfter > 0 && rd.owner.state.Load() == stateOpen {
		rd.parkNow, rd.idleArmed = true, false
	}
}

// idleDeadline reports whether err is the idle deadline firing (and not
// the message or close deadline that replaced it), and clears it.
func (rd *reader) idleDeadline(err error) bool {
	if !rd.idleArmed || !errors.Is(err, os.ErrDeadlineExceeded) || rd.owner.state.Load() != stateOpen {
		return false
	}
	rd.idleArmed = false
	rd.clearDeadline()
	return true
}

// clearDeadline clears the read deadline this reader set, unless the
// connection is closing: then the close deadline (closeAsync) replaced it.
// A close that begins meanwhile sets its own deadline (closeAsync sets the
// state first), which this may have wiped out: it is set again.
func (rd *reader) clearDeadline() {
	c := rd.owner
	if c.state.Load() != stateOpen {
		return
	}
	c.netConn.SetReadDeadline(time.Time{})
	if c.state.Load() != stateOpen {
		c.armCloseDeadline()
	}
}

// ensure makes n contiguous bytes available (n <= len(buffer)).
func (rd *reader) ensure(n int) error {
	for rd.buffered() < n {
		if rd.buf != nil && len(rd.buf)-rd.r < n {
			rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
			rd.r = 0
		}
		if err := rd.fill(); err != nil {
			return err
		}
	}
	return nil
}

// endMessage clears the per-message deadline and gives the buffer back if
// it is drained.
func (rd *reader) endMessage() {
	rd.inMsg = false
	if rd.deadline {
		rd.deadline = false
		rd.clearDeadline()
	}
	rd.release()
}
