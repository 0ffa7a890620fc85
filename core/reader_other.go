//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package wsevents

import "net"

// rawWaiterFor has no buffer-free readiness wait here: connections read
// with a pooled buffer held while they wait.
func rawWaiterFor(net.Conn) rawWaiter { return nil }
