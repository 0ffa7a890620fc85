//go:build unix

package thirdparty

import (
	"net"
	"syscall"
)

// smallRecvBuffer makes a dialer whose sockets have a small receive buffer,
// set before connect so the advertised TCP window stays small.
func smallRecvBuffer(size int) *net.Dialer {
	return &net.Dialer{
		Timeout: wait,
		Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
			})
			if err != nil {
				return err
			}
			return serr
		},
	}
}
