//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wsevents

import (
	"net"
	"syscall"
)

// rawWaiterFor has no buffer-free readiness wait here: connections read
// with a pooled buffer held while they wait.
func rawWaiterFor(net.Conn) rawWaiter { return nil }

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func (c *Conn) tryWritev([]*frame, int) (int, error) { panic("unreachable: no raw conn") }

type rawWrite struct{}
