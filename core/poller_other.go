//go:build !linux

package wsevents

import "time"

// Parking idle connections without a goroutine is Linux-only (epoll);
// elsewhere every connection keeps its read goroutine.

type parkState struct{}

func (c *Conn) park() bool     { return false }
func (c *Conn) unpark()        {}
func (c *Conn) unparkRelease() {}

func parkDelay(*Conn) time.Duration { return 0 }

const idleParkAfter = 0 // never

func parkedConns() int { return 0 }
