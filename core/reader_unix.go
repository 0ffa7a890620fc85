//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wsevents

import (
	"errors"
	"io"
	"net"
	"syscall"
	"unsafe"
)

// waitRaw is the idle wait of a connection with a raw socket: it waits in
// the runtime's poller with no buffer; the read callback (readRaw) takes a
// buffer only once data is there, and puts it back when the socket turns
// out not to be readable yet.
//
// With inline dispatch (reader.inline, Linux) the callback also runs the
// complete messages it read (dispatchBuffered) before it returns. With
// TCP_INQ on as well (reader.inq), a read that drained the socket is
// followed by the wait for more, not by a read that would find nothing:
// one system call in three of an echo. That is sound only inside one
// RawConn.Read, whose poller readiness was reset before the read, so it
// reports whatever arrives after it; and TCP_INQ counts a FIN that the
// read consumed with the last bytes. A reset (RST) that arrives in the
// instant between a wake-up and the read is not counted: it is seen at the
// idle deadline instead of at once, so the shortcut is taken only while
// that is set (at most parkAfter away), and a closing connection, whose
// close deadline must be checked, leaves the callback after every read.
func (c *Conn) waitRaw() error {
	rd := &c.rd
	if rd.readFn == nil {
		rd.readFn = c.readRaw // one method value per connection
	}
	err := c.rawW.Read(rd.readFn)
	rerr, owed := rd.rawErr, rd.closeOwed
	rd.rawErr, rd.closeOwed = nil, false
	if owed {
		// The socket was closed while a handler ran in the callback,
		// which held the descriptor: the close was left to us.
		c.closeSocket()
	}
	if err == nil && rerr == nil && rd.buffered() > 0 {
		return nil // bytes for the read loop
	}
	rd.release()
	switch {
	case err != nil:
		return err
	case rerr != nil:
		if errors.Is(rerr, syscall.ECONNRESET) {
			return io.EOF
		}
		return rerr
	case owed:
		return net.ErrClosed
	}
	return nil // every message read was dispatched: wait again
}

// readRaw is the RawConn callback of the idle wait (waitRaw).
func (c *Conn) readRaw(fd uintptr) bool {
	rd := &c.rd
	for {
		if rd.buf == nil {
			rd.acquire()
		}
		n, more, err := sockRead(int(fd), rd.buf[rd.w:], rd.inq)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			rd.release()
			return false
		case err != nil:
			rd.rawErr = err
			return true
		case n == 0:
			rd.rawErr = io.EOF
			return true
		}
		rd.w += n
		rd.recent = true
		if !rd.inline || !c.dispatchBuffered() {
			return true
		}
		// Everything read was dispatched.
		rd.release()
		if c.state.Load() != stateOpen {
			// Closing: out of RawConn.Read after each read, so that the
			// close deadline is checked however fast the peer sends.
			return true
		}
		if !more && rd.idleArmed {
			return false
		}
	}
}

func rawConnOf(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// tryWritev writes the frames of batch (the first one from byte head) in
// one writev without waiting for the socket, and returns how many bytes the
// kernel took: 0 when its buffer is full.
func (c *Conn) tryWritev(batch []*frame, head int) (int, error) {
	iov := c.iovecsFor(batch, head)
	if len(iov) == 0 {
		return 0, nil
	}
	if c.writevFn == nil {
		c.writevFn = c.writevOnce // one method value per connection, not per write
	}
	err := c.rawW.Write(c.writevFn)
	clear(iov)
	if err != nil {
		return 0, err
	}
	return sendResult(int(c.wvN), c.wvErr)
}

// sendResult turns a non-blocking send's outcome into what wrote takes:
// the bytes the kernel took, 0 when the socket is full (or the send was
// cancelled), or the error.
func sendResult(n int, errno syscall.Errno) (int, error) {
	switch errno {
	case 0:
		return n, nil
	case syscall.EAGAIN, syscall.ECANCELED:
		return 0, nil
	}
	return 0, errno
}

// iovecsFor points c.iovecs at the bytes of batch still to go (the first
// frame from byte head). The caller clears them once the write is done.
func (c *Conn) iovecsFor(batch []*frame, head int) []syscall.Iovec {
	iov := c.iovecs[:0]
	for i, f := range batch {
		b := f.bytes()
		if i == 0 {
			b = b[head:]
		}
		if len(b) == 0 {
			continue
		}
		v := syscall.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	c.iovecs = iov
	return iov
}

// writevOnce is the RawConn callback of tryWritev: one attempt, never a
// wait for writability. One buffer goes out with write(2), which spares
// the kernel importing an iovec array (the common case of a reply).
func (c *Conn) writevOnce(fd uintptr) bool {
	for {
		if len(c.iovecs) == 1 {
			c.wvN, _, c.wvErr = syscall.Syscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(c.iovecs[0].Base)), uintptr(c.iovecs[0].Len))
		} else {
			c.wvN, _, c.wvErr = syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&c.iovecs[0])), uintptr(len(c.iovecs)))
		}
		if c.wvErr != syscall.EINTR {
			return true
		}
	}
}

// rawWrite is a connection's state for tryWritev.
type rawWrite struct {
	iovecs   []syscall.Iovec
	writevFn func(fd uintptr) bool
	wvN      uintptr
	wvErr    syscall.Errno
}
