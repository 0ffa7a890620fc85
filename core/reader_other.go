//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wsevents

import (
	"net"
	"syscall"
)

// Without a raw socket (rawConnOf is nil here) connections read with a
// pooled buffer held while they wait: waitRaw is never called.
func (c *Conn) waitRaw() error { panic("unreachable: no raw conn") }

func rawConnOf(net.Conn) syscall.RawConn { return nil }

func (c *Conn) tryWritev([]*frame, int) (int, error) { panic("unreachable: no raw conn") }

type rawWrite struct{}
