// Command soakclient is a client process of the soak test: it holds a
// range of connections to soakserver (gorilla/websocket, one reader
// goroutine per connection, from its own loopback source address), joins
// and leaves rooms, publishes sequenced messages to them, and checks what
// arrives: each sender's sequence numbers must strictly increase, each
// room's too, and every payload must be intact. The driver (package soak)
// starts it; it is not meant to be run by hand.
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
}

// conn is one connection. The fields under "actor" belong to the actor
// goroutine that writes on it, those under "reader" to its read goroutine.
type conn struct {
	idx  int
	ws   *websocket.Conn
	slow bool

	// actor
	rooms   []string
	seq     uint64
	nextAct time.Time
	dead    bool

	// reader
	lastSeq   map[int32]uint64
	lastRoom  map[string]uint64
	nextPause time.Time
	buf       []byte

	received atomic.Uint64
	fenced   atomic.Bool
	ended    chan struct{}
}

type client struct {
	o     options
	conns []*conn

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
	fast, slow := dialer(false), dialer(true)
	cl.conns = make([]*conn, o.n)
	jobs := make(chan int)
	errs := make(chan error, o.n)
	var wg sync.WaitGroup
	for range o.dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				idx := o.first + i
				c := &conn{
					idx:      idx,
					slow:     o.slowEvery > 0 && idx%o.slowEvery == 0,
					lastSeq:  make(map[int32]uint64),
					lastRoom: make(map[string]uint64),
					ended:    make(chan struct{}),
				}
				d := fast
				if c.slow {
					d = slow
				}
				ws, resp, err := d.Dial(o.url+"?id="+soak.ConnID(idx), nil)
				if err != nil {
					status := 0
					if resp != nil {
						status = resp.StatusCode
					}
					errs <- fmt.Errorf("dial %d: %v (HTTP %d)", idx, err, status)
					continue
				}
				if ws.Subprotocol() != wsevents.Subprotocol {
					errs <- fmt.Errorf("dial %d: subprotocol %q", idx, ws.Subprotocol())
					ws.Close()
					continue
				}
				c.ws = ws
				cl.conns[i] = c
				go cl.read(c)
				// First rooms; the flood room for slow and some fast readers.
				rnd := rand.New(rand.NewPCG(uint64(idx), 1))
				for len(c.rooms) < o.roomsPerConn && len(c.rooms) < o.rooms {
					name := soak.RoomName(rnd.IntN(o.rooms))
					if !contains(c.rooms, name) {
						c.rooms = append(c.rooms, name)
						if err := cl.send(c, soak.EvJoin, []byte(name)); err != nil {
							errs <- err
							break
						}
						cl.joins.Add(1)
					}
				}
				if c.slow || (o.floodEvery > 0 && idx%o.floodEvery == o.floodEvery/2) {
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
// sometimes a room change.
func (cl *client) actor(a int, stop <-chan struct{}) {
	o := cl.o
	rnd := rand.New(rand.NewPCG(uint64(o.proc), uint64(a)))
	jitter := func() time.Duration {
		return o.pubEvery/2 + time.Duration(rnd.Int64N(int64(o.pubEvery)+1))
	}
	var mine []*conn
	now := time.Now()
	for i := a; i < len(cl.conns); i += o.actors {
		c := cl.conns[i]
		c.nextAct = now.Add(jitter())
		mine = append(mine, c)
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
		for _, c := range mine {
			if c.dead || now.Before(c.nextAct) {
				continue
			}
			c.nextAct = now.Add(jitter())
			var err error
			switch r := rnd.IntN(100); {
			case r < 85 && len(c.rooms) > 0:
				c.seq++
				name := c.rooms[rnd.IntN(len(c.rooms))]
				payload = append(payload[:0], name...)
				payload = append(payload, '|')
				payload = strconv.AppendUint(payload, c.seq, 10)
				payload = append(payload, '|')
				payload = soak.AppendPad(payload, c.idx, c.seq, rnd.IntN(o.padMax+1))
				if err = cl.send(c, soak.EvPub, payload); err == nil {
					cl.pubs.Add(1)
				}
			case len(c.rooms) >= o.roomsPerConn:
				i := rnd.IntN(len(c.rooms))
				name := c.rooms[i]
				c.rooms = append(c.rooms[:i], c.rooms[i+1:]...)
				if err = cl.send(c, soak.EvLeave, []byte(name)); err == nil {
					cl.leaves.Add(1)
				}
			default:
				name := soak.RoomName(rnd.IntN(o.rooms))
				if contains(c.rooms, name) {
					break
				}
				c.rooms = append(c.rooms, name)
				if err = cl.send(c, soak.EvJoin, []byte(name)); err == nil {
					cl.joins.Add(1)
				}
			}
			if err != nil {
				c.dead = true
				cl.fail("%v", err)
			}
		}
	}
}

func (cl *client) sendDone() {
	for _, c := range cl.conns {
		if err := cl.send(c, soak.EvDone, nil); err != nil {
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
			if !cl.quitting.Load() || !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				cl.fail("conn %d: read: %v", c.idx, err)
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
		if !c.fenced.Swap(true) && cl.fences.Add(1) == int64(len(cl.conns)) {
			close(cl.allFence)
		}
	default:
		bad()
	}
}

// order checks that sender's sequence numbers strictly increase on c.
func (cl *client) order(c *conn, sender int, seq uint64) {
	if c.fenced.Load() {
		cl.fail("conn %d: message from %d after the fence", c.idx, sender)
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
	}
	for _, c := range cl.conns {
		n := c.received.Load()
		rep.Received += n
		rep.Conns = append(rep.Conns, soak.ClientConn{Idx: c.idx, Received: n, Fenced: c.fenced.Load()})
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
	for _, c := range cl.conns {
		if c != nil {
			c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(soak.WriteWait))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range cl.conns {
		if c == nil {
			continue
		}
		select {
		case <-c.ended:
		case <-ctx.Done():
		}
		c.ws.Close()
	}
}
