//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wsevents

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// rawWaiterFor returns a waiter that parks in the runtime's poller with no
// buffer: the read callback takes a buffer only once data is there, and
// puts it back when the socket turns out not to be readable yet.
func rawWaiterFor(c net.Conn) rawWaiter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return func(rd *reader) error {
		var (
			n    int
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			if rd.buf == nil {
				rd.acquire()
			}
			for {
				n, rerr = syscall.Read(int(fd), rd.buf[rd.w:])
				if rerr != syscall.EINTR {
					break
				}
			}
			if rerr == syscall.EAGAIN {
				rd.release()
				return false
			}
			return true
		})
		if err != nil {
			rd.release()
			return err
		}
		if rerr != nil {
			rd.release()
			if errors.Is(rerr, syscall.ECONNRESET) {
				return io.EOF
			}
			return rerr
		}
		if n <= 0 {
			rd.release()
			return io.EOF
		}
		rd.w += n
		return nil
	}
}
