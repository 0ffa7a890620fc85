//go:build linux && !386

package wsevents

import (
	"strconv"
	"syscall"
	"testing"
	"unsafe"
)

// dataSegsOut is the kernel's count of data segments the socket under c
// has sent (struct tcp_info's tcpi_data_segs_out, Linux 4.6 and later).
func dataSegsOut(t *testing.T, c *Conn) uint32 {
	t.Helper()
	sc, ok := c.netConn.(syscall.Conn)
	if !ok {
		t.Skip("the connection has no socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	const offDataSegsOut = 156 // after tcpi_min_rtt and tcpi_data_segs_in
	var info [256]byte
	size := uint32(len(info))
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_INFO,
			uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	}); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatalf("getsockopt TCP_INFO: %v", errno)
	}
	if size < offDataSegsOut+4 {
		t.Skipf("tcp_info of %d bytes has no tcpi_data_segs_out", size)
	}
	return *(*uint32)(unsafe.Pointer(&info[offDataSegsOut]))
}

// Frames queued while a write is under way leave together in the next
// one: 50 of them, one system call, one TCP segment (3.7 KB, far below
// loopback's MSS). Frame by frame they would be 50 writes, and on loopback
// nearly as many segments.
func TestQueuedFramesLeaveInOneWrite(t *testing.T) {
	s := New(Config{PingPeriod: -1})
	conns := make(chan Connection, 1)
	s.OnConnection(func(c Connection) { conns <- c })
	cl := dial(t, testServer(t, s), Subprotocol)
	c := <-conns
	before := dataSegsOut(t, c)

	// A write under way, as far as the emitters can tell: they queue.
	c.wmu.Lock()
	c.flushing = true
	c.wmu.Unlock()
	const n = 50
	for i := range n {
		if err := c.EmitRaw("tick", KindText, []byte("frame "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	c.wmu.Lock()
	queued := len(c.queue)
	c.wmu.Unlock()
	if queued != n {
		t.Fatalf("%d frames queued, want %d", queued, n)
	}
	// The write is over: the connection goes to the writers, as
	// enqueueFlush hands it over.
	c.srv.schedule(c)
	for i := range n {
		cl.expect("et:tick\nframe " + strconv.Itoa(i))
	}
	if segs := dataSegsOut(t, c) - before; segs != 1 {
		t.Fatalf("%d queued frames left in %d TCP segments, want 1", n, segs)
	}
}
