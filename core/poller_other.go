//go:build !linux

package wsevents

import "time"

// Parking idle connections without a goroutine is Linux-only (epoll);
// elsewhere every connection keeps its read goroutine.

type parkState struct{}

// closeSocket closes the connection's socket (poller_linux.go also waits
// for direct users of its descriptor and wakes a parked connection).
func (c *Conn) closeSocket() { c.netConn.Close() }

func (c *Conn) initSock() {}

// Handlers run inside RawConn.Read on Linux only (reader.inline).
const inlineDispatch = false

func (c *Conn) beginInline() bool { return false }
func (c *Conn) endInline() bool   { return false }

func (c *Conn) park() bool     { return false }
func (c *Conn) unpark()        {}
func (c *Conn) unparkRelease() {}

func parkDelay(*Conn) time.Duration { return 0 }

const idleParkAfter = 0 // never

func parkedConns() int { return 0 }
