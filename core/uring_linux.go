//go:build linux && (amd64 || arm64)

package wsevents

import (
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// Batched sends on Linux. A fan-out leaves many connections ready to write
// at once. The writer (writers.go) hands them to sendAll in groups of up
// to ringEntries: one send per connection, all submitted to an io_uring
// in one io_uring_enter, instead of one write(2) each. The sends are
// non-blocking (MSG_DONTWAIT): each completes during the submission, with
// the bytes the socket took or -EAGAIN, so sendAll waits on nothing but
// the kernel doing the sends, and accounts for them as tryWritev's results
// (wrote): a full socket gets its blocking writer, a failed one is closed.
//
// The sends use the descriptors directly, each held by sockFD so that no
// socket can be closed (and its number reused) while a send to it is under
// way. Rings come from a small process-wide pool and live as long as the
// process. Where io_uring is missing, refused (seccomp, containers) or
// does not complete non-blocking sends at once (probe), nothing changes:
// every connection gets its own write, as elsewhere.
//
// WSEVENTS_URING=0 in the environment turns batched sends off: a
// diagnostics switch, and a pass of the core tests.

var uringEnabled = os.Getenv("WSEVENTS_URING") != "0"

const (
	sysIOURingSetup = 425
	sysIOURingEnter = 426

	ioringOffSQRing = 0
	ioringOffCQRing = 0x8000000
	ioringOffSQEs   = 0x10000000

	ioringEnterGetEvents = 1

	ioringOpSendmsg     = 9
	ioringOpAsyncCancel = 14
	ioringOpSend        = 26

	ringEntries = 1024

	cancelTag = 1 << 63 // user_data of a cancellation, not of a send
)

type uringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	msgFlags uint32
	userData uint64
	_        [3]uint64
}

type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	_                                                                      [3]uint32
	sqOff                                                                  struct {
		head, tail, ringMask, ringEntries, flags, dropped, array, _ uint32
		_                                                           uint64
	}
	cqOff struct {
		head, tail, ringMask, ringEntries, overflow, cqes, flags, _ uint32
		_                                                           uint64
	}
}

// uring is one io_uring, used by one writer at a time.
type uring struct {
	fd                 int
	sqTail, sqMask     *uint32
	sqArray            []uint32
	sqes               []uringSQE
	cqHead, cqTail     *uint32
	cqMask             uint32
	cqes               []uringCQE
	maps               [][]byte
	broken             bool             // an unexpected failure: closed, not reused
	hdrs               []syscall.Msghdr // per send of several frames
	pend               []uringSend
	outstanding, tailN uint32
	// ready is the writer's list of the connections of one submission,
	// made once at the ring's capacity: a writer goroutine lives for one
	// burst, so a list of its own would be allocated for every broadcast.
	ready []*Conn
}

// uringSend is a send in flight: whose, and what it carries.
type uringSend struct {
	c     *Conn
	batch []*frame
	head  int
}

var uringSends atomic.Uint64 // sends made through a ring (tests)

var rings struct {
	mu    sync.Mutex
	free  []*uring
	count int
	off   bool // io_uring is unavailable here
}

// takeRing returns a ring for one writer, or nil: batched sends are off,
// unavailable, or every ring is taken.
func takeRing() *uring {
	if !uringEnabled {
		return nil
	}
	rings.mu.Lock()
	defer rings.mu.Unlock()
	if rings.off {
		return nil
	}
	if n := len(rings.free); n > 0 {
		r := rings.free[n-1]
		rings.free = rings.free[:n-1]
		return r
	}
	if rings.count >= 2*runtime.GOMAXPROCS(0)+2 {
		return nil
	}
	r, err := newURing()
	if err != nil {
		rings.off = true
		return nil
	}
	if !r.probe() {
		r.close()
		rings.off = true
		return nil
	}
	rings.count++
	return r
}

func putRing(r *uring) {
	if r == nil {
		return
	}
	if r.broken {
		r.close()
		rings.mu.Lock()
		rings.count--
		rings.mu.Unlock()
		return
	}
	rings.mu.Lock()
	rings.free = append(rings.free, r)
	rings.mu.Unlock()
}

// uringWorks reports whether batched sends are in use here (tests).
func uringWorks() bool {
	r := takeRing()
	putRing(r)
	return r != nil
}

func newURing() (*uring, error) {
	var p uringParams
	fd, _, errno := syscall.Syscall(sysIOURingSetup, ringEntries, uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	r := &uring{fd: int(fd)}
	mmap := func(off int64, size uint32) ([]byte, error) {
		b, err := syscall.Mmap(r.fd, off, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
		if err == nil {
			r.maps = append(r.maps, b)
		}
		return b, err
	}
	sq, err := mmap(ioringOffSQRing, p.sqOff.array+p.sqEntries*4)
	if err != nil {
		r.close()
		return nil, err
	}
	cq, err := mmap(ioringOffCQRing, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	if err != nil {
		r.close()
		return nil, err
	}
	sqes, err := mmap(ioringOffSQEs, p.sqEntries*uint32(unsafe.Sizeof(uringSQE{})))
	if err != nil {
		r.close()
		return nil, err
	}
	r.sqTail = (*uint32)(unsafe.Pointer(&sq[p.sqOff.tail]))
	r.sqMask = (*uint32)(unsafe.Pointer(&sq[p.sqOff.ringMask]))
	r.sqArray = unsafe.Slice((*uint32)(unsafe.Pointer(&sq[p.sqOff.array])), p.sqEntries)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&sqes[0])), p.sqEntries)
	r.cqHead = (*uint32)(unsafe.Pointer(&cq[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&cq[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&cq[p.cqOff.ringMask]))
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	r.hdrs = make([]syscall.Msghdr, p.sqEntries)
	r.pend = make([]uringSend, p.sqEntries)
	r.ready = make([]*Conn, 0, p.sqEntries)
	return r, nil
}

func (r *uring) close() {
	for _, b := range r.maps {
		syscall.Munmap(b)
	}
	r.maps = nil
	syscall.Close(r.fd)
}

// capacity is the most sends one sendAll submits.
func (r *uring) capacity() int { return len(r.sqes) }

// readyList is the ring's empty list of up to capacity connections
// (Server.writer's, for one submission); nil without a ring.
func (r *uring) readyList() []*Conn {
	if r == nil {
		return nil
	}
	return r.ready[:0]
}

// push queues one SQE (published by submit).
func (r *uring) push(e uringSQE) {
	i := (atomic.LoadUint32(r.sqTail) + r.tailN) & *r.sqMask
	r.sqes[i] = e
	r.sqArray[i] = i
	r.tailN++
}

// submit publishes the queued SQEs and has the kernel take them. It
// returns how many it took; fewer than were queued breaks the ring, and
// the SQEs it did not take are withdrawn.
func (r *uring) submit() uint32 {
	n := r.tailN
	r.tailN = 0
	tail := atomic.LoadUint32(r.sqTail)
	atomic.StoreUint32(r.sqTail, tail+n)
	done := uint32(0)
	for done < n {
		k, _, errno := syscall.Syscall6(sysIOURingEnter, uintptr(r.fd), uintptr(n-done), 0, 0, 0, 0)
		if errno == syscall.EINTR {
			continue
		}
		if errno != 0 || k == 0 {
			// Nothing reads the SQ outside io_uring_enter: taking the
			// tail back withdraws what was not taken.
			atomic.StoreUint32(r.sqTail, tail+done)
			r.broken = true
			break
		}
		done += uint32(k)
	}
	return done
}

// sendAll writes the queues of conns (each one the writers' own, with
// flushing set), one non-blocking send each, in one submission.
func (r *uring) sendAll(conns []*Conn) {
	n := 0
	for _, c := range conns {
		batch, head, ok := c.takeBatch()
		if !ok {
			continue
		}
		fd, ok := c.sockFD()
		if !ok {
			c.wrote(batch, head, 0, net.ErrClosed) // closing: nothing more goes out
			continue
		}
		iov := c.iovecsFor(batch, head)
		e := uringSQE{fd: int32(fd), msgFlags: syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL, userData: uint64(n)}
		if len(iov) == 1 {
			e.opcode, e.addr, e.len = ioringOpSend, uint64(uintptr(unsafe.Pointer(iov[0].Base))), uint32(iov[0].Len)
		} else {
			h := &r.hdrs[n]
			*h = syscall.Msghdr{Iov: &iov[0]}
			h.Iovlen = uint64(len(iov))
			e.opcode, e.addr, e.len = ioringOpSendmsg, uint64(uintptr(unsafe.Pointer(h))), 1
		}
		r.push(e)
		r.pend[n] = uringSend{c: c, batch: batch, head: head}
		n++
	}
	if n == 0 {
		return
	}
	taken := int(r.submit())
	r.outstanding = uint32(taken)
	uringSends.Add(uint64(taken))
	for i := taken; i < n; i++ {
		p := r.release(i) // not taken by the kernel: the plain way
		p.c.writeFrom(p.batch, p.head)
	}
	r.reap()
	if r.outstanding > 0 {
		// Not completed during the submission: this kernel queued a
		// non-blocking send after all. Cancel what is left, wait for
		// it, and send no more through rings.
		for i := 0; i < n; i++ {
			if r.pend[i].c != nil {
				r.push(uringSQE{opcode: ioringOpAsyncCancel, addr: uint64(i), userData: cancelTag | uint64(i)})
			}
		}
		r.broken = true
		rings.mu.Lock()
		rings.off = true
		rings.mu.Unlock()
		r.submit()
		for r.outstanding > 0 {
			_, _, errno := syscall.Syscall6(sysIOURingEnter, uintptr(r.fd), 0, 1, ioringEnterGetEvents, 0, 0)
			if errno != 0 && errno != syscall.EINTR {
				break // nothing more can be done: the ring stays open
			}
			r.reap()
		}
	}
	runtime.KeepAlive(r.hdrs)
}

// reap accounts for the completions in the CQ.
func (r *uring) reap() {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		e := r.cqes[head&r.cqMask]
		if e.userData&cancelTag != 0 {
			continue
		}
		i := int(e.userData)
		if r.pend[i].c == nil {
			continue
		}
		var written int
		var err error
		if e.res >= 0 {
			written = int(e.res)
		} else {
			written, err = sendResult(0, syscall.Errno(-e.res))
		}
		r.outstanding--
		// The descriptor is let go first: wrote may close the socket.
		p := r.release(i)
		if p.c.wrote(p.batch, p.head, written, err) {
			p.c.flushNonBlocking() // frames queued meanwhile
		}
	}
	atomic.StoreUint32(r.cqHead, head)
}

// release ends send i's hold: its slot, its descriptor and its iovecs.
func (r *uring) release(i int) uringSend {
	p := r.pend[i]
	r.pend[i] = uringSend{}
	p.c.releaseFD()
	clear(p.c.iovecs)
	return p
}

// probe checks that a non-blocking send completes during its submission
// (-EAGAIN on a full socket, the bytes on an empty one), as sendAll
// relies on.
func (r *uring) probe() bool {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096)
	fill := make([]byte, 4096)
	for {
		if _, err := syscall.Write(fds[0], fill); err != nil {
			break
		}
	}
	one := []byte{1}
	send := func(fd int, tag uint64) uringSQE {
		return uringSQE{opcode: ioringOpSend, fd: int32(fd), addr: uint64(uintptr(unsafe.Pointer(&one[0]))), len: 1,
			msgFlags: syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL, userData: tag}
	}
	r.push(send(fds[0], 0)) // full: -EAGAIN
	r.push(send(fds[1], 1)) // empty: 1 byte
	if r.submit() != 2 {
		return false
	}
	got := map[uint64]int32{}
	head, tail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		e := r.cqes[head&r.cqMask]
		got[e.userData] = e.res
	}
	atomic.StoreUint32(r.cqHead, head)
	runtime.KeepAlive(one)
	ok := len(got) == 2 && got[0] == -int32(syscall.EAGAIN) && got[1] == 1
	if len(got) < 2 {
		// Queued instead: cancel, and close the ring (the caller does).
		r.push(uringSQE{opcode: ioringOpAsyncCancel, addr: 0, userData: cancelTag})
		r.submit()
		syscall.Syscall6(sysIOURingEnter, uintptr(r.fd), 0, 2, ioringEnterGetEvents, 0, 0)
	}
	return ok
}
