package wsevents

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Idle connections on Linux hold no goroutine. A connection whose read loop
// has waited idleParkAfter without a byte (and holds no part of a message)
// parks: its socket goes into one process-wide epoll set (one-shot) and its
// goroutine ends. When the socket turns readable the poller starts a new
// read goroutine, which reads until the connection is idle again. Anything
// that must wake a parked connection from outside (its close, a failed
// write) calls unpark. The poller's own goroutine lives only while some
// connection has been parked and not yet finished.
//
// WSEVENTS_EPOLL=0 in the environment turns parking off (every connection
// keeps its goroutine, as on other platforms): a diagnostics switch, and the
// second pass of the core tests.

var idleParkAfter = time.Second // each Server's parkAfter; shortened by the tests

var parkingEnabled = os.Getenv("WSEVENTS_EPOLL") != "0"

type parkSlot struct {
	c   *Conn
	gen int32
}

type epoller struct {
	mu      sync.Mutex
	epfd    int // -1 until first use
	wakefd  int // eventfd that stops the loop when nothing is parked
	err     error
	slots   []parkSlot
	free    []int32
	active  int
	running bool
	broken  atomic.Bool // epoll_wait failed: nothing parks any more
}

var poller = epoller{epfd: -1}

// parkState is a connection's part of parking: its slot (index+1, 0 for
// none) and whether it is parked.
type parkState struct {
	pslot       int32
	pgen        int32
	pfd         int // the socket's descriptor + 1 (0: none), valid while sockUse holds it
	pregistered bool
	parked      atomic.Bool
	// sockUse guards pfd for code that uses the descriptor outside the
	// net package (epoll_ctl here, io_uring sends in uring_linux.go): each
	// user adds sockUser for as long as it uses pfd. sockClosing means the
	// socket is closing: closeSocket sets it and waits for the users to
	// go, so that a descriptor number is never used after it was closed
	// (and perhaps reused by another socket). sockInline means the read
	// goroutine is running handlers inside RawConn.Read (beginInline).
	sockUse atomic.Int32
}

const (
	sockClosing = 1
	sockInline  = 2
	sockUser    = 4
)

// Handlers run inside RawConn.Read (reader.inline) where connections park:
// WSEVENTS_EPOLL=0 turns both off.
var inlineDispatch = parkingEnabled

// sockFD returns the socket's descriptor and holds it open until
// releaseFD; false once the socket is closing, or without one.
func (c *Conn) sockFD() (int, bool) {
	if c.pfd == 0 {
		return 0, false
	}
	if c.sockUse.Add(sockUser)&sockClosing != 0 {
		c.sockUse.Add(-sockUser)
		return 0, false
	}
	return c.pfd - 1, true
}

func (c *Conn) releaseFD() { c.sockUse.Add(-sockUser) }

// beginInline tells closeSocket that the read goroutine runs handlers
// inside RawConn.Read, where it holds the net package's reference to the
// descriptor: a Close would wait for it. False once the socket is closing.
func (c *Conn) beginInline() bool {
	for {
		v := c.sockUse.Load()
		if v&sockClosing != 0 {
			return false
		}
		if c.sockUse.CompareAndSwap(v, v|sockInline) {
			return true
		}
	}
}

// endInline ends what beginInline began. True if the socket is closing:
// then closeSocket may have left the close to the read goroutine, which
// calls it again once out of RawConn.Read.
func (c *Conn) endInline() bool {
	for {
		v := c.sockUse.Load()
		if c.sockUse.CompareAndSwap(v, v&^sockInline) {
			return v&sockClosing != 0
		}
	}
}

// initSock notes the socket's descriptor (newConn); net's own reference
// holds it while Control runs.
func (c *Conn) initSock() {
	if c.rawW != nil {
		c.rawW.Control(func(fd uintptr) {
			c.pfd = int(fd) + 1
			c.rd.inq = c.rd.inline && enableINQ(int(fd))
		})
	}
}

// closeSocket closes the connection's socket once nobody uses its
// descriptor directly, and wakes the connection if it is parked (a closed
// descriptor leaves the epoll set without an event), so that its read
// goroutine sees the close and finishes. Every close of an established
// connection's socket goes through here. The wait is bounded by one batch
// of sends. While the read goroutine runs handlers inside RawConn.Read
// (beginInline), the socket is shut down at once and closed by that
// goroutine when the handler returns: a Close would wait for the handler,
// and from the handler itself for ever.
func (c *Conn) closeSocket() {
	for {
		v := c.sockUse.Load()
		if v&sockClosing != 0 || c.sockUse.CompareAndSwap(v, v|sockClosing) {
			break
		}
	}
	for i := 0; c.sockUse.Load()/sockUser != 0; i++ {
		if i < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
	}
	if c.sockUse.Load()&sockInline != 0 {
		// Through Control, which holds net's own reference: it does
		// nothing once the read goroutine has closed the socket.
		c.rawW.Control(func(fd uintptr) { syscall.Shutdown(int(fd), syscall.SHUT_RDWR) })
		return
	}
	c.netConn.Close()
	c.unpark()
}

func (p *epoller) init() error {
	if p.epfd >= 0 || p.err != nil {
		return p.err
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		p.err = err
		return err
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		p.err = errno
		return errno
	}
	wake := int(r)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: -1}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wake, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(wake)
		p.err = err
		return err
	}
	p.epfd, p.wakefd = epfd, wake
	return nil
}

// park registers c's socket for one readiness event and marks c parked. It
// reports false when c could not be parked (it then keeps its goroutine).
func (c *Conn) park() bool {
	if parkDelay(c) == 0 || poller.broken.Load() {
		return false
	}
	p := &poller
	fd, ok := c.sockFD()
	if !ok {
		return false
	}
	defer c.releaseFD()
	if c.pslot == 0 {
		p.mu.Lock()
		if p.init() != nil {
			p.mu.Unlock()
			return false
		}
		var i int32
		if n := len(p.free); n > 0 {
			i = p.free[n-1]
			p.free = p.free[:n-1]
		} else {
			i = int32(len(p.slots))
			p.slots = append(p.slots, parkSlot{})
		}
		p.slots[i].c = c
		c.pslot, c.pgen = i+1, p.slots[i].gen
		p.active++
		if !p.running {
			p.running = true
			go p.loop()
		}
		p.mu.Unlock()
	}
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     c.pslot - 1,
		Pad:    c.pgen,
	}
	op := syscall.EPOLL_CTL_MOD
	if !c.pregistered {
		op = syscall.EPOLL_CTL_ADD
		c.pregistered = true // before the event can start another goroutine
	}
	c.parked.Store(true)
	err := syscall.EpollCtl(p.epfd, op, fd, &ev)
	if err == syscall.ENOENT {
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
	}
	if err != nil {
		// Still ours if nobody resumed it meanwhile: go on reading.
		return !c.parked.CompareAndSwap(true, false)
	}
	c.srv.parks.Add(1)
	return true
}

// parkDelay is how long an idle connection keeps its goroutine before it
// parks; 0 for connections that never park.
func parkDelay(c *Conn) time.Duration {
	if !parkingEnabled || c.rawW == nil || c.client {
		return 0
	}
	return c.srv.parkAfter
}

// unpark gives a parked connection its goroutine back, so that it sees its
// socket closed or its close deadline.
func (c *Conn) unpark() {
	if c.parked.CompareAndSwap(true, false) {
		go c.serve()
	}
}

// unparkRelease frees c's slot when it finishes (on its read goroutine).
func (c *Conn) unparkRelease() {
	if c.pslot == 0 {
		return
	}
	p := &poller
	p.mu.Lock()
	i := c.pslot - 1
	p.slots[i] = parkSlot{gen: p.slots[i].gen + 1}
	p.free = append(p.free, i)
	p.active--
	if p.active == 0 && p.running {
		var one = [8]byte{1}
		syscall.Write(p.wakefd, one[:])
	}
	p.mu.Unlock()
	c.pslot = 0
}

func (p *epoller) loop() {
	var events [128]syscall.EpollEvent
	var drain [8]byte
	for {
		n, err := syscall.EpollWait(p.epfd, events[:], -1)
		if err != nil && err != syscall.EINTR {
			// Give every parked connection its goroutine back and park
			// no more.
			p.broken.Store(true)
			p.mu.Lock()
			var all []*Conn
			for _, s := range p.slots {
				if s.c != nil {
					all = append(all, s.c)
				}
			}
			p.running = false
			p.mu.Unlock()
			for _, c := range all {
				c.unpark()
			}
			return
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd < 0 {
				syscall.Read(p.wakefd, drain[:])
				continue
			}
			p.mu.Lock()
			var c *Conn
			if s := p.slots[ev.Fd]; s.gen == ev.Pad {
				c = s.c
			}
			p.mu.Unlock()
			if c != nil {
				c.unpark()
			}
		}
		p.mu.Lock()
		if p.active == 0 {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}

// parkedConns counts the connections holding a park slot (parked now, or
// parked before and not finished).
func parkedConns() int {
	poller.mu.Lock()
	defer poller.mu.Unlock()
	return poller.active
}
