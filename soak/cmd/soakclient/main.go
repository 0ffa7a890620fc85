// Command soakclient is a client process of the soak test: it holds a
// range of connections to soakserver (gorilla/websocket, one reader
// goroutine per connection, from its own loopback source address), joins
// and leaves rooms, publishes sequenced messages to them, and checks what
// arrives: each sender's sequence numbers must strictly increase, each
// room's too, and every payload must be intact. Churning connections
// (every -churn-conn-every'th) say goodbye every -churn-every or so, check
// their farewell's counts, close with 1000 and reconnect under the next
// connection ID, rejoining their rooms. The driver (package soak) starts
// it; it is not meant to be run by hand.
//
// Standard input carries the driver's commands, one a line: "go" starts
// the traffic, "stop" ends it (each connection then sends "done" and waits
// for its fence), "quit" closes the connections with 1000 and exits. The
// end of standard input is a quit. Standard output carries "ready N" once
// N connections are up, then "report {json}" (a ClientReport) once every
// connection got its fence, then "bye".
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/soak"
)

type options struct {
	url          string
	proc         int
	first, n     int
	src          string
	rooms        int
	roomsPerConn int
	pubEvery     time.Duration
	padMax       int
	slowEvery    int
	floodEvery   int
	pause        time.Duration
	pauseEvery   time.Duration
	dialers      int
	actors       int
	fenceWait    time.Duration

	churnEvery     time.Duration
	churnConnEvery int
}

// slot is one of the process's connection indexes, across the
// incarnations churn gives it. Its fields belong to the actor goroutine
// that writes on it, except while busy is set: then a churn goroutine
// owns them (busy orders the hand-overs).
type slot struct {
	idx     int
	slow    bool
	churner bool

	rooms     []string
	seq       uint64 // continues across incarnations: receivers check it across reconnects
	nextAct   time.Time
	nextChurn time.Time
	dead      bool
	gen       int   // generation of cur
	cur       *conn // the current incarnation
	busy      atomic.Bool
}

// conn is one connection incarnation: a WebSocket connection with its
// own ID. The fields under "reader" belong to its read goroutine.
type conn struct {
	idx, gen int
	ws       *websocket.Conn
	slow     bool

	// reader
	lastSeq   map[int32]uint64
	lastRoom  map[string]uint64
	nextPause time.Time
	buf       []byte

	received atomic.Uint64
	fenced   atomic.Bool   // got the final fence
	left     atomic.Bool   // got its farewell (after its goodbye)
	closing  atomic.Bool   // closing with 1000 after the farewell
	farewell chan struct{} // closed with left set
	ended    chan struct{}
}

// id is c's connection ID.
func (c *conn) id() string { return soak.ConnID(c.idx, c.gen) }

type client struct {
	o          options
	conns      []*slot
	fast, slow *websocket.Dialer

	churns     sync.WaitGroup // churn goroutines in flight
	retiredMu  sync.Mutex
	retired    []*conn // incarnations that left cleanly
	reconnects atomic.Uint64

	traffic  atomic.Bool // slow readers pause only while it holds
	quitting atomic.Bool
	fences   atomic.Int64
	allFence chan struct{}

	pubs, joins, leaves   atomic.Uint64
	outOfOrder, roomOrder atomic.Uint64
	badPayload, pauses    atomic.Uint64
	connErrors            atomic.Uint64
	errMu                 sync.Mutex
	firstErrors           []string
}

func (cl *client) fail(format string, args ...any) {
	cl.connErrors.Add(1)
	cl.errMu.Lock()
	if len(cl.firstErrors) < 10 {
		cl.firstErrors = append(cl.firstErrors, fmt.Sprintf(format, args...))
	}
	cl.errMu.Unlock()
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "", "ws://host:port/ws of soakserver")
	flag.IntVar(&o.proc, "proc", 0, "number of this client process")
	flag.IntVar(&o.first, "first", 0, "index of the first connection")
	flag.IntVar(&o.n, "n", 100, "connections")
	flag.StringVar(&o.src, "src", "127.0.0.1", "source `address` of the connections")
	flag.IntVar(&o.rooms, "rooms", 50, "rooms on the server")
	flag.IntVar(&o.roomsPerConn, "rooms-per-conn", 3, "rooms each connection is in")
	flag.DurationVar(&o.pubEvery, "pub-every", 5*time.Second, "mean time between a connection's actions")
	flag.IntVar(&o.padMax, "pad-max", 200, "largest padding of a published message")
	flag.IntVar(&o.slowEvery, "slow-every", 100, "every Nth connection is a slow reader in the flood room")
	flag.IntVar(&o.floodEvery, "flood-fast-every", 200, "every Nth connection (offset N/2) is a fast reader in the flood room")
	flag.DurationVar(&o.pause, "pause", 2*time.Second, "how long a slow reader stops reading")
	flag.DurationVar(&o.pauseEvery, "pause-every", 5*time.Second, "mean time between a slow reader's pauses")
	flag.IntVar(&o.dialers, "dialers", 32, "concurrent dials")
	flag.IntVar(&o.actors, "actors", 8, "goroutines that write")
	flag.DurationVar(&o.fenceWait, "fence-wait", 2*time.Minute, "how long to wait for the fences after stop")
	flag.DurationVar(&o.churnEvery, "churn-every", 0, "mean time between a churning connection's reconnects (0: no churn)")
	flag.IntVar(&o.churnConnEvery, "churn-conn-every", 10, "every Nth connection (offset N/2; not slow or flood readers) churns")
	flag.Parse()
	log.SetPrefix(fmt.Sprintf("soakclient %d: ", o.proc))
	log.SetFlags(0)

	if _, err := soak.RaiseOpenFiles(); err != nil {
		log.Fatalf("raising the open files limit: %v", err)
	}
	cl := &client{o: o, allFence: make(chan struct{})}
	if err := cl.connect(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ready %d\n", len(cl.conns))

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var actors sync.WaitGroup
	stopActors := make(chan struct{})
	for cmd := range lines {
		switch cmd {
		case "go":
			cl.traffic.Store(true)
			for a := range o.actors {
				actors.Add(1)
				go func() {
					defer actors.Done()
					cl.actor(a, stopActors)
				}()
			}
		case "stop":
			cl.traffic.Store(false)
			close(stopActors)
			actors.Wait()
			cl.churns.Wait()
			cl.sendDone()
			select {
			case <-cl.allFence:
			case <-time.After(o.fenceWait):
				cl.fail("%d of %d connections got no fence within %v", int64(len(cl.conns))-cl.fences.Load(), len(cl.conns), o.fenceWait)
			}
			b, _ := json.Marshal(cl.report())
			fmt.Printf("report %s\n", b)
		case "quit":
			cl.quit()
			fmt.Println("bye")
			return
		default:
			log.Printf("unknown command %q", cmd)
		}
	}
	cl.quit()
}

// connect dials every connection, o.dialers at a time, and joins each to
// its first rooms.
func (cl *client) connect() error {
	o := cl.o
	src := net.ParseIP(o.src)
	if src == nil {
		return fmt.Errorf("bad -src %q", o.src)
	}
	pool := &sync.Pool{}
	dialer := func(slow bool) *websocket.Dialer {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 30 * time.Second}
		if slow {
			// A small receive window, set before connect: the server's
			// writes back up into its queue within a few KiB.
			nd.Control = func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10)
				})
				return errors.Join(err, serr)
			}
		}
		return &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			HandshakeTimeout: 30 * time.Second,
			Subprotocols:     []string{wsevents.Subprotocol},
			ReadBufferSize:   1024,
			WriteBufferSize:  512,
			WriteBufferPool:  pool,
		}
	}
	cl.fast, cl.slow = dialer(false), dialer(true)
	cl.conns = make([]*slot, o.n)
	jobs := make(chan int)
	errs := make(chan error, o.n)
	var wg sync.WaitGroup
	for range o.dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				idx := o.first + i
				floodFast := o.floodEvery > 0 && idx%o.floodEvery == o.floodEvery/2
				s := &slot{idx: idx, slow: o.slowEvery > 0 && idx%o.slowEvery == 0}
				s.churner = o.churnEvery > 0 && o.churnConnEvery > 0 && !s.slow && !floodFast &&
					idx%o.churnConnEvery == o.churnConnEvery/2
				c, err := cl.open(s)
				if err != nil {
					errs <- err
					continue
				}
				s.cur = c
				cl.conns[i] = s
				// First rooms; the flood room for slow and some fast readers.
				rnd := rand.New(rand.NewPCG(uint64(idx), 1))
				for len(s.rooms) < o.roomsPerConn && len(s.rooms) < o.rooms {
					name := soak.RoomName(rnd.IntN(o.rooms))
					if !contains(s.rooms, name) {
						s.rooms = append(s.rooms, name)
						if err := cl.send(c, soak.EvJoin, []byte(name)); err != nil {
							errs <- err
							break
						}
						cl.joins.Add(1)
					}
				}
				if s.slow || floodFast {
					if err := cl.send(c, soak.EvJoin, []byte(soak.FloodRoom)); err != nil {
						errs <- err
					}
					cl.joins.Add(1)
				}
			}
		}()
	}
	for i := range o.n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
		if len(all) == 5 {
			break
		}
	}
	return errors.Join(all...)
}

// open dials generation s.gen of s's connection and starts its reader.
func (cl *client) open(s *slot) (*conn, error) {
	c := &conn{
		idx:      s.idx,
		gen:      s.gen,
		slow:     s.slow,
		lastSeq:  make(map[int32]uint64),
		lastRoom: make(map[string]uint64),
		farewell: make(chan struct{}),
		ended:    make(chan struct{}),
	}
	d := cl.fast
	if s.slow {
		d = cl.slow
	}
	ws, resp, err := d.Dial(cl.o.url+"?id="+c.id(), nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, fmt.Errorf("dial %s: %v (HTTP %d)", c.id(), err, status)
	}
	if ws.Subprotocol() != wsevents.Subprotocol {
		ws.Close()
		return nil, fmt.Errorf("dial %s: subprotocol %q", c.id(), ws.Subprotocol())
	}
	c.ws = ws
	go cl.read(c)
	return c, nil
}

// churn is one clean leave and reconnect of s, on its own goroutine while
// s is busy: goodbye, read up to the farewell (whose counts the reader
// checks), close with 1000, then dial the next generation and rejoin
// s's rooms. A failure marks s dead: the run then fails.
func (cl *client) churn(s *slot) {
	defer cl.churns.Done()
	defer s.busy.Store(false) // runs first: hands s back to its actor
	old := s.cur
	fail := func(format string, args ...any) {
		s.dead = true
		cl.fail("churn of %s: %s", old.id(), fmt.Sprintf(format, args...))
	}
	if err := cl.send(old, soak.EvGoodbye, nil); err != nil {
		fail("%v", err)
		return
	}
	select {
	case <-old.farewell:
	case <-old.ended:
		fail("the connection ended before its farewell")
		return
	case <-time.After(cl.o.fenceWait):
		fail("no farewell within %v", cl.o.fenceWait)
		return
	}
	old.closing.Store(true)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := old.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(soak.WriteWait)); err != nil {
		fail("close: %v", err)
		return
	}
	select {
	case <-old.ended:
	case <-time.After(20 * time.Second):
		fail("no close from the server within 20s")
		return
	}
	old.ws.Close()
	cl.retiredMu.Lock()
	cl.retired = append(cl.retired, old)
	cl.retiredMu.Unlock()

	s.gen++
	c, err := cl.open(s)
	if err != nil {
		fail("reconnect: %v", err)
		return
	}
	s.cur = c
	for _, name := range s.rooms {
		if err := cl.send(c, soak.EvJoin, []byte(name)); err != nil {
			fail("rejoin: %v", err)
			return
		}
		cl.joins.Add(1)
	}
	cl.reconnects.Add(1)
	s.nextChurn = time.Now().Add(cl.churnJitter())
}

// churnJitter is a churning connection's time to its next churn.
func (cl *client) churnJitter() time.Duration {
	return cl.o.churnEvery/2 + time.Duration(rand.Int64N(int64(cl.o.churnEvery)+1))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// send writes one event message: "et:NAME\nPAYLOAD".
func (cl *client) send(c *conn, event string, payload []byte) error {
	b := make([]byte, 0, 4+len(event)+len(payload))
	b = append(b, "et:"...)
	b = append(b, event...)
	b = append(b, '\n')
	b = append(b, payload...)
	c.ws.SetWriteDeadline(time.Now().Add(soak.WriteWait))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return fmt.Errorf("conn %d: write %s: %w", c.idx, event, err)
	}
	return nil
}

// actor a owns the connections i with i%actors == a and acts on each at
// random intervals around pubEvery: mostly a publish to one of its rooms,
// sometimes a room change. It hands a churner to a churn goroutine at
// random intervals around churnEvery and skips it until it is back.
func (cl *client) actor(a int, stop <-chan struct{}) {
	o := cl.o
	rnd := rand.New(rand.NewPCG(uint64(o.proc), uint64(a)))
	jitter := func() time.Duration {
		return o.pubEvery/2 + time.Duration(rnd.Int64N(int64(o.pubEvery)+1))
	}
	var mine []*slot
	now := time.Now()
	for i := a; i < len(cl.conns); i += o.actors {
		s := cl.conns[i]
		s.nextAct = now.Add(jitter())
		if s.churner {
			s.nextChurn = now.Add(cl.churnJitter())
		}
		mine = append(mine, s)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var payload []byte
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		now := time.Now()
		for _, s := range mine {
			if s.busy.Load() || s.dead {
				continue
			}
			if s.churner && !now.Before(s.nextChurn) {
				s.busy.Store(true)
				cl.churns.Add(1)
				go cl.churn(s)
				continue
			}
			if now.Before(s.nextAct) {
				continue
			}
			s.nextAct = now.Add(jitter())
			c := s.cur
			var err error
			switch r := rnd.IntN(100); {
			case r < 85 && len(s.rooms) > 0:
				s.seq++
				name := s.rooms[rnd.IntN(len(s.rooms))]
				payload = append(payload[:0], name...)
				payload = append(payload, '|')
				payload = strconv.AppendUint(payload, s.seq, 10)
				payload = append(payload, '|')
				payload = soak.AppendPad(payload, s.idx, s.seq, rnd.IntN(o.padMax+1))
				if err = cl.send(c, soak.EvPub, payload); err == nil {
					cl.pubs.Add(1)
				}
			case len(s.rooms) >= o.roomsPerConn:
				i := rnd.IntN(len(s.rooms))
				name := s.rooms[i]
				s.rooms = append(s.rooms[:i], s.rooms[i+1:]...)
				if err = cl.send(c, soak.EvLeave, []byte(name)); err == nil {
					cl.leaves.Add(1)
				}
			default:
				name := soak.RoomName(rnd.IntN(o.rooms))
				if contains(s.rooms, name) {
					break
				}
				s.rooms = append(s.rooms, name)
				if err = cl.send(c, soak.EvJoin, []byte(name)); err == nil {
					cl.joins.Add(1)
				}
			}
			if err != nil {
				s.dead = true
				cl.fail("%v", err)
			}
		}
	}
}

func (cl *client) sendDone() {
	for _, s := range cl.conns {
		if err := cl.send(s.cur, soak.EvDone, nil); err != nil {
			cl.fail("%v", err)
		}
	}
}

// read is a connection's reader: it checks and counts every message.
func (cl *client) read(c *conn) {
	defer close(c.ended)
	for {
		if c.slow && cl.traffic.Load() {
			now := time.Now()
			if c.nextPause.IsZero() {
				c.nextPause = now.Add(time.Duration(rand.Int64N(int64(cl.o.pauseEvery) + 1)))
			} else if now.After(c.nextPause) {
				cl.pauses.Add(1)
				time.Sleep(cl.o.pause)
				c.nextPause = time.Now().Add(cl.o.pauseEvery/2 + time.Duration(rand.Int64N(int64(cl.o.pauseEvery)+1)))
			}
		}
		_, r, err := c.ws.NextReader()
		if err != nil {
			closing := cl.quitting.Load() || c.closing.Load()
			if !closing || !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				cl.fail("conn %s: read: %v", c.id(), err)
			}
			return
		}
		c.buf, err = readAll(r, c.buf[:0])
		if err != nil {
			cl.fail("conn %d: read: %v", c.idx, err)
			return
		}
		c.received.Add(1)
		cl.check(c, c.buf)
	}
}

func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// check verifies one message: "et:NAME\nPAYLOAD".
func (cl *client) check(c *conn, msg []byte) {
	bad := func() { cl.badPayload.Add(1) }
	if !bytes.HasPrefix(msg, []byte("et:")) {
		bad()
		return
	}
	nl := bytes.IndexByte(msg, '\n')
	if nl < 0 {
		bad()
		return
	}
	name, p := msg[3:nl], msg[nl+1:]
	switch string(name) {
	case soak.EvRoomMsg: // room|roomseq|sender|seq|pad
		f := bytes.SplitN(p, []byte("|"), 5)
		if len(f) != 5 {
			bad()
			return
		}
		rseq, err1 := strconv.ParseUint(string(f[1]), 10, 64)
		sender, err2 := strconv.Atoi(string(f[2]))
		seq, err3 := strconv.ParseUint(string(f[3]), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || sender == c.idx || !soak.CheckPad(f[4], sender, seq) {
			bad()
			return
		}
		if last, ok := c.lastRoom[string(f[0])]; ok && rseq <= last {
			cl.roomOrder.Add(1)
		}
		c.lastRoom[string(f[0])] = rseq
		cl.order(c, sender, seq)
	case soak.EvBroadcast, soak.EvFlood: // seq|pad
		sender := soak.SenderBroadcast
		if string(name) == soak.EvFlood {
			sender = soak.SenderFlood
		}
		i := bytes.IndexByte(p, '|')
		if i < 0 {
			bad()
			return
		}
		seq, err := strconv.ParseUint(string(p[:i]), 10, 64)
		if err != nil || !soak.CheckPad(p[i+1:], sender, seq) {
			bad()
			return
		}
		cl.order(c, sender, seq)
	case soak.EvFence:
		if c.left.Load() {
			cl.fail("conn %s: fence after the farewell", c.id())
		}
		if !c.fenced.Swap(true) && cl.fences.Add(1) == int64(len(cl.conns)) {
			close(cl.allFence)
		}
	case soak.EvFarewell: // addressed|dropped
		i := bytes.IndexByte(p, '|')
		if i < 0 {
			bad()
			return
		}
		addressed, err1 := strconv.ParseUint(string(p[:i]), 10, 64)
		dropped, err2 := strconv.ParseUint(string(p[i+1:]), 10, 64)
		if err1 != nil || err2 != nil || c.left.Load() || c.fenced.Load() {
			bad()
			return
		}
		// The farewell is the last message addressed to this
		// incarnation, so its counts are final: the same check as the
		// driver's at the end, for this incarnation alone.
		if got := c.received.Load(); got+dropped != addressed {
			cl.fail("conn %s: farewell: addressed %d, received %d + dropped %d", c.id(), addressed, got, dropped)
		}
		c.left.Store(true)
		close(c.farewell)
	default:
		bad()
	}
}

// order checks that sender's sequence numbers strictly increase on c.
func (cl *client) order(c *conn, sender int, seq uint64) {
	if c.fenced.Load() || c.left.Load() {
		cl.fail("conn %s: message from %d after the fence or farewell", c.id(), sender)
	}
	if last, ok := c.lastSeq[int32(sender)]; ok && seq <= last {
		cl.outOfOrder.Add(1)
		cl.fail("conn %d: sender %d seq %d after %d", c.idx, sender, seq, last)
	}
	c.lastSeq[int32(sender)] = seq
}

func (cl *client) report() soak.ClientReport {
	rep := soak.ClientReport{
		Proc:       cl.o.proc,
		Pubs:       cl.pubs.Load(),
		Joins:      cl.joins.Load(),
		Leaves:     cl.leaves.Load(),
		OutOfOrder: cl.outOfOrder.Load(),
		RoomOrder:  cl.roomOrder.Load(),
		BadPayload: cl.badPayload.Load(),
		Pauses:     cl.pauses.Load(),
		ConnErrors: cl.connErrors.Load(),
		Reconnects: cl.reconnects.Load(),
	}
	cl.retiredMu.Lock()
	all := append([]*conn(nil), cl.retired...)
	cl.retiredMu.Unlock()
	for _, s := range cl.conns {
		all = append(all, s.cur)
	}
	for _, c := range all {
		n := c.received.Load()
		rep.Received += n
		left := c.left.Load()
		rep.Conns = append(rep.Conns, soak.ClientConn{Idx: c.idx, Gen: c.gen, Received: n, Fenced: c.fenced.Load() || left, Left: left})
	}
	cl.errMu.Lock()
	rep.FirstErrors = append(rep.FirstErrors, cl.firstErrors...)
	cl.errMu.Unlock()
	return rep
}

// quit closes every connection with 1000 and waits, boundedly, for the
// server's answer.
func (cl *client) quit() {
	cl.quitting.Store(true)
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	for _, s := range cl.conns {
		if s != nil {
			s.cur.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(soak.WriteWait))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, s := range cl.conns {
		if s == nil {
			continue
		}
		c := s.cur
		select {
		case <-c.ended:
		case <-ctx.Done():
		}
		c.ws.Close()
	}
}
