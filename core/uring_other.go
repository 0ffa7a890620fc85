//go:build !linux || !(amd64 || arm64)

package wsevents

// Batched sends (uring_linux.go) are for Linux on amd64 and arm64; here
// every connection gets its own write.

type uring struct{}

func takeRing() *uring               { return nil }
func putRing(*uring)                 {}
func (*uring) capacity() int         { return 0 }
func (*uring) readyList() []*Conn    { return nil }
func (*uring) sendAll(conns []*Conn) {}
func uringWorks() bool               { return false }
